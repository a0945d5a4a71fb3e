import { ApplicationFailure, CancelledFailure, TemporalFailure } from '@temporalio/common';

const REDACTED = '***';
/** Encoded forms of shorter secrets would match ordinary text; such secrets are redacted as written only. */
const ENCODED_MIN_LENGTH = 6;
/** Deeper values are replaced whole: nothing that deep is worth keeping, and a walk must not blow the stack. */
const MAX_DEPTH = 32;

/** Env keys whose values are secrets: redacted from logs, tails and outputs. */
export const SECRET_ENV_KEY = /(TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL)/i;

/**
 * The part of a secret's base64 that is the same wherever the secret sits in a longer encoded text:
 * one per alignment (0, 1 or 2 bytes before it), without the characters shared with its neighbours.
 */
function base64Cores(secret: Buffer, alphabet: 'base64' | 'base64url'): string[] {
  const cores: string[] = [];
  for (const offset of [0, 1, 2]) {
    const encoded = Buffer.concat([Buffer.alloc(offset), secret]).toString(alphabet).replace(/=+$/, '');
    const head = offset === 0 ? 0 : offset + 1;
    const tail = (offset + secret.length) % 3 === 0 ? 0 : 1;
    const core = encoded.slice(head, encoded.length - tail);
    if (core.length >= ENCODED_MIN_LENGTH) cores.push(core);
  }
  return cores;
}

/** How a secret may appear in output: as written, base64 (also URL-safe, at any alignment), URL-encoded. */
export function secretForms(secret: string): string[] {
  if (secret === '') return [];
  if (secret.length < ENCODED_MIN_LENGTH) return [secret];
  const bytes = Buffer.from(secret, 'utf8');
  const forms = [secret, ...base64Cores(bytes, 'base64'), ...base64Cores(bytes, 'base64url'), encodeURIComponent(secret), encodeURIComponent(secret).replace(/%20/g, '+')];
  return [...new Set(forms)];
}

/** Returns a function that replaces every occurrence of every non-empty secret (and its encoded forms) with "***". */
export function createRedactor(secrets: readonly string[]): (text: string) => string {
  // Longest first, so a secret that contains another is replaced whole.
  const unique = [...new Set(secrets.flatMap(secretForms))].sort((a, b) => b.length - a.length);
  if (unique.length === 0) return (text) => text;
  const pattern = new RegExp(unique.map(escapeRegExp).join('|'), 'g');
  return (text) => text.replace(pattern, REDACTED);
}

/** Values of `env` whose keys look like secrets (see {@link SECRET_ENV_KEY}). */
export function secretEnvValues(env: Readonly<Record<string, unknown>> | undefined): string[] {
  return Object.entries(env ?? {})
    .filter(([key, value]) => SECRET_ENV_KEY.test(key) && typeof value === 'string')
    .map(([, value]) => value as string);
}

/** Length of the longest form of any secret: a stream must hold back this many characters minus one. */
export function longestSecret(secrets: readonly string[]): number {
  return secrets.flatMap(secretForms).reduce((max, form) => Math.max(max, form.length), 0);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A copy of a JSON-like value with every string (keys too) redacted. */
export function redactDeep<T>(value: T, redact: (text: string) => string, depth = 0): T {
  if (typeof value === 'string') return redact(value) as T;
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return REDACTED as T;
  if (Array.isArray(value)) return value.map((item: unknown) => redactDeep(item, redact, depth + 1)) as T;
  if (value instanceof Error) return redactFailure(value, redact) as T;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    Object.defineProperty(copy, redact(key), { value: redactDeep(item, redact, depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return copy as T;
}

/**
 * The same failure with its message, details, stack and causes redacted, as Temporal will record it.
 * A cancellation is kept as it is (its message is ours). Any other error becomes an ApplicationFailure
 * of the error's class name, as Temporal would have converted it, so its retry behaviour stays the same.
 */
export function redactFailure(error: unknown, redact: (text: string) => string, depth = 0): Error {
  if (error instanceof CancelledFailure) return error;
  if (!(error instanceof Error)) return ApplicationFailure.create({ type: 'Error', message: redact(String(error)) });
  const cause = error.cause instanceof Error && depth < MAX_DEPTH ? redactFailure(error.cause, redact, depth + 1) : undefined;
  let failure: Error;
  if (error instanceof ApplicationFailure) {
    failure = ApplicationFailure.create({
      type: error.type ?? 'Error',
      message: redact(error.message),
      nonRetryable: error.nonRetryable ?? false,
      details: redactDeep(error.details ?? [], redact, depth + 1) as unknown[],
      ...(error.nextRetryDelay ? { nextRetryDelay: error.nextRetryDelay } : {}),
      ...(error.category ? { category: error.category } : {}),
      ...(cause ? { cause } : {}),
    });
  } else {
    const type = error instanceof TemporalFailure ? error.name : error.name || 'Error';
    failure = ApplicationFailure.create({ type, message: redact(error.message), nonRetryable: false, ...(cause ? { cause } : {}) });
  }
  failure.stack = redact(error.stack ?? failure.stack ?? '');
  return failure;
}

/**
 * Redacts a stream that arrives in chunks. A secret may be split across chunks, so the last
 * (longest secret − 1) characters are held back until more text arrives or `end()` is called.
 */
export class StreamRedactor {
  private pending = '';
  private readonly holdBack: number;
  private readonly redact: (text: string) => string;

  constructor(secrets: readonly string[]) {
    this.redact = createRedactor(secrets);
    this.holdBack = Math.max(0, longestSecret(secrets) - 1);
  }

  /** Returns the redacted text that is safe to emit now. */
  write(text: string): string {
    const redacted = this.redact(this.pending + text);
    const cut = Math.max(0, redacted.length - this.holdBack);
    this.pending = redacted.slice(cut);
    return redacted.slice(0, cut);
  }

  /** Returns whatever was held back. */
  end(): string {
    const rest = this.redact(this.pending);
    this.pending = '';
    return rest;
  }
}
