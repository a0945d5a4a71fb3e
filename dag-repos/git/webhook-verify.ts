import { createHmac, timingSafeEqual } from 'node:crypto';

export type Forge = 'github' | 'gitlab' | 'bitbucket';

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

/** Checks a delivery's signature or token against the repository's secret, over the raw bytes received. */
export function verifyDelivery(forge: Forge, secret: string, headers: Record<string, string | string[] | undefined>, rawBody: Buffer): boolean {
  const header = (name: string): string => {
    const value = headers[name];
    return Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
  };
  switch (forge) {
    case 'github':
      return safeEqual(header('x-hub-signature-256'), hmacSignature(secret, rawBody));
    case 'bitbucket':
      return safeEqual(header('x-hub-signature'), hmacSignature(secret, rawBody));
    case 'gitlab':
      return header('x-gitlab-token') !== '' && safeEqual(header('x-gitlab-token'), secret);
  }
}

/** The id a forge gives each delivery, so a redelivered event is recognised. */
export function deliveryId(forge: Forge, headers: Record<string, string | string[] | undefined>): string | undefined {
  const first = (...names: string[]): string | undefined => {
    for (const name of names) {
      const value = headers[name];
      const text = Array.isArray(value) ? value[0] : value;
      if (text) return text;
    }
    return undefined;
  };
  const id = forge === 'github' ? first('x-github-delivery') : forge === 'gitlab' ? first('idempotency-key', 'x-gitlab-event-uuid') : first('x-request-uuid');
  return id ? `${forge}:${id}` : undefined;
}

export type ForgeEvent = { kind: 'ping' } | { kind: 'push'; branch: string; commit: string; deleted: boolean } | { kind: 'ignored'; event: string };

const ZERO_SHA = /^0{40}$/;

/** What a verified delivery asks for: a ping, a push to a branch, or something this receiver does not act on. */
export function parseForgeEvent(forge: Forge, headers: Record<string, string | string[] | undefined>, payload: unknown): ForgeEvent {
  const body = (payload ?? {}) as Record<string, unknown>;
  const header = (name: string): string => String(headers[name] ?? '');
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
