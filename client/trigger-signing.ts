import { randomUUID } from 'node:crypto';
import { DELIVERY_ID, signTrigger } from '../dag-repos/git/webhook-verify';

// The sender's side of `POST /trigger/<repo>/<dag>` (`qubinode trigger sign`), signed as the API checks it.
export { WEBHOOK_SECRET_MIN_LENGTH } from '../dag-repos/schema/triggers';

export const isDeliveryId = (id: string): boolean => DELIVERY_ID.test(id);

export const newDeliveryId = (): string => randomUUID();

/** The X-Qubinode-* headers of one delivery of `body`, stamped now. */
export function signTriggerDelivery(secret: string, body: Buffer, delivery: string): Record<string, string> {
  return signTrigger(secret, body, { delivery, timestamp: Date.now() / 1000 });
}
