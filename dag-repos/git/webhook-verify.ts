import { createHmac, timingSafeEqual } from 'node:crypto';

export type Forge = 'github' | 'gitlab' | 'bitbucket';

type Headers = Record<string, string | string[] | undefined>;

/** A header's value as one string (the first, if repeated); '' when absent. */
function headerValue(headers: Headers, name: string): string {
  const value = headers[name];
  return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
}

// Checked when there is no usable secret (unknown repository or DAG, unset or short variable), so
// every refusal costs one HMAC and timing says little about which case it was.
const STAND_IN_SECRET = 'qubinode-no-such-webhook-secret-stand-in-key';

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  // Length differences are not secret (the format is public); contents are compared in constant time.
  return left.length === right.length && timingSafeEqual(left, right);
}

/** `sha256=<hex>` HMAC of the raw body, as GitHub (X-Hub-Signature-256) and Bitbucket (X-Hub-Signature) send it. */
export function hmacSignature(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Headers of a signed `POST /trigger/<repo>/<dag>` (lower case, as Node presents them). */
export const TRIGGER_HEADERS = {
  timestamp: 'x-qubinode-timestamp',
  delivery: 'x-qubinode-delivery',
  signature: 'x-qubinode-signature-256',
} as const;

/** A delivery id is also part of a workflow id, so its alphabet and length are fixed. */
export const DELIVERY_ID = /^[A-Za-z0-9._-]{8,64}$/;

/**
 * `sha256=<hex>` HMAC over `<timestamp>.<delivery>.<raw body>`: the timestamp and the delivery id are
 * signed with the body, so neither can be changed to slip a captured request past the replay checks.
 */
export function triggerSignature(secret: string, timestamp: string, delivery: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${delivery}.`).update(body).digest('hex')}`;
}

/** The headers a sender attaches to a trigger request: the signing side of `verifyTrigger`. */
export function signTrigger(secret: string, body: Buffer | string, options: { delivery: string; timestamp: number }): Record<string, string> {
  const timestamp = String(Math.floor(options.timestamp));
  return {
    [TRIGGER_HEADERS.timestamp]: timestamp,
    [TRIGGER_HEADERS.delivery]: options.delivery,
    [TRIGGER_HEADERS.signature]: triggerSignature(secret, timestamp, options.delivery, body),
  };
}

export type TriggerRefusal = 'missing-headers' | 'malformed-headers' | 'too-old' | 'in-the-future' | 'bad-signature';

export type TriggerCheck = { ok: true; delivery: string; timestamp: number } | { ok: false; refusal: TriggerRefusal };

export interface TriggerCheckInput {
  /** The DAG's secret; undefined (unset or too short) still costs an HMAC, then fails. */
  secret: string | undefined;
  headers: Headers;
  rawBody: Buffer;
  nowMs: number;
  windowSeconds: number;
}

/**
 * Checks a trigger request: all three headers present, a well-formed delivery id, a timestamp
 * inside the window either side of now, and the signature. The HMAC is always computed, so a
 * refusal for a missing secret takes as long as one for a wrong signature.
 */
export function verifyTrigger(input: TriggerCheckInput): TriggerCheck {
  const timestamp = headerValue(input.headers, TRIGGER_HEADERS.timestamp);
  const delivery = headerValue(input.headers, TRIGGER_HEADERS.delivery);
  const signature = headerValue(input.headers, TRIGGER_HEADERS.signature);
  const expected = triggerSignature(input.secret ?? STAND_IN_SECRET, timestamp, delivery, input.rawBody);
  const matches = safeEqual(signature, expected) && input.secret !== undefined;
  if (!timestamp || !delivery || !signature) return { ok: false, refusal: 'missing-headers' };
  if (!/^\d{1,12}$/.test(timestamp) || !DELIVERY_ID.test(delivery)) return { ok: false, refusal: 'malformed-headers' };
  if (!matches) return { ok: false, refusal: 'bad-signature' };
  // Checked after the signature so a stranger learns nothing about the window from a forged request.
  const skew = Number(timestamp) - Math.floor(input.nowMs / 1000);
  if (skew < -input.windowSeconds) return { ok: false, refusal: 'too-old' };
  if (skew > input.windowSeconds) return { ok: false, refusal: 'in-the-future' };
  return { ok: true, delivery, timestamp: Number(timestamp) };
}

/**
 * Checks a delivery's signature or token against the repository's secret, over the raw bytes
 * received. Without a secret (unknown repository, variable unset) the same work is done against a
 * stand-in key and the answer is false.
 */
export function verifyDelivery(forge: Forge, secret: string | undefined, headers: Headers, rawBody: Buffer): boolean {
  const key = secret ?? STAND_IN_SECRET;
  const header = (name: string): string => headerValue(headers, name);
  let matches: boolean;
  switch (forge) {
    case 'github':
      matches = safeEqual(header('x-hub-signature-256'), hmacSignature(key, rawBody));
      break;
    case 'bitbucket':
      matches = safeEqual(header('x-hub-signature'), hmacSignature(key, rawBody));
      break;
    case 'gitlab':
      matches = header('x-gitlab-token') !== '' && safeEqual(header('x-gitlab-token'), key);
      break;
  }
  return matches && secret !== undefined;
}

/** The id a forge gives each delivery, so a redelivered event is recognised. */
export function deliveryId(forge: Forge, headers: Headers): string | undefined {
  const first = (...names: string[]): string | undefined => names.map((name) => headerValue(headers, name)).find((text) => text !== '');
  const id = forge === 'github' ? first('x-github-delivery') : forge === 'gitlab' ? first('idempotency-key', 'x-gitlab-event-uuid') : first('x-request-uuid');
  return id ? `${forge}:${id}` : undefined;
}

export type ForgeEvent = { kind: 'ping' } | { kind: 'push'; branch: string; commit: string; deleted: boolean } | { kind: 'ignored'; event: string };

const ZERO_SHA = /^0{40}$/;

/** What a verified delivery asks for: a ping, a push to a branch, or something this receiver does not act on. */
export function parseForgeEvent(forge: Forge, headers: Headers, payload: unknown): ForgeEvent {
  const body = (payload ?? {}) as Record<string, unknown>;
  const header = (name: string): string => headerValue(headers, name);
  if (forge === 'github') {
    const event = header('x-github-event');
    if (event === 'ping') return { kind: 'ping' };
    if (event !== 'push') return { kind: 'ignored', event: event || 'unknown' };
  } else if (forge === 'gitlab') {
    const event = header('x-gitlab-event');
    if (event !== 'Push Hook') return { kind: 'ignored', event: event || 'unknown' };
  } else {
    const event = header('x-event-key');
    if (event === 'diagnostics:ping') return { kind: 'ping' };
    if (event !== 'repo:push') return { kind: 'ignored', event: event || 'unknown' };
    const changes = ((body.push as { changes?: unknown[] } | undefined)?.changes ?? []) as { new?: { type?: string; name?: string; target?: { hash?: string } } | null; old?: { name?: string } | null }[];
    const change = changes[0];
    if (!change) return { kind: 'ignored', event: 'repo:push without changes' };
    if (!change.new) return { kind: 'push', branch: change.old?.name ?? '', commit: '', deleted: true };
    if (change.new.type !== 'branch') return { kind: 'ignored', event: `push of ${change.new.type ?? 'unknown'}` };
    return { kind: 'push', branch: change.new.name ?? '', commit: change.new.target?.hash ?? '', deleted: false };
  }
  const ref = typeof body.ref === 'string' ? body.ref : '';
  if (!ref.startsWith('refs/heads/')) return { kind: 'ignored', event: ref ? `push of ${ref}` : 'push without ref' };
  const after = typeof body.after === 'string' ? body.after : typeof body.checkout_sha === 'string' ? body.checkout_sha : '';
  return { kind: 'push', branch: ref.slice('refs/heads/'.length), commit: ZERO_SHA.test(after) ? '' : after, deleted: ZERO_SHA.test(after) || body.deleted === true };
}
