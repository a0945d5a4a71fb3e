const REDACTED = '***';

/** Env keys whose values are secrets: redacted from logs, tails and outputs. */
export const SECRET_ENV_KEY = /(TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL)/i;

/** Returns a function that replaces every occurrence of every non-empty secret with "***". */
export function createRedactor(secrets: readonly string[]): (text: string) => string {
  // Longest first, so a secret that contains another is replaced whole.
  const unique = [...new Set(secrets.filter((secret) => secret !== ''))].sort((a, b) => b.length - a.length);
  if (unique.length === 0) return (text) => text;
  const pattern = new RegExp(unique.map(escapeRegExp).join('|'), 'g');
  return (text) => text.replace(pattern, REDACTED);
}

/** Values of `env` whose keys look like secrets (see {@link SECRET_ENV_KEY}). */
export function secretEnvValues(env: Readonly<Record<string, string>> | undefined): string[] {
  return Object.entries(env ?? {})
    .filter(([key]) => SECRET_ENV_KEY.test(key))
    .map(([, value]) => value);
}

/** Length of the longest secret: a stream must hold back this many characters minus one. */
export function longestSecret(secrets: readonly string[]): number {
  return secrets.reduce((max, secret) => Math.max(max, secret.length), 0);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
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
    this.holdBack = Math.max(0, longestSecret(secrets.filter((secret) => secret !== '')) - 1);
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
