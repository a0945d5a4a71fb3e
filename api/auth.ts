import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/** Compares without leaking where two tokens differ (both hashed to the same length first). */
export function tokensMatch(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/**
 * The API token: QUBINODE_API_TOKEN, else the token file; when neither exists a new random token
 * is written to the file (mode 0600) so `qubinode up` works with no set-up.
 */
export function loadOrCreateApiToken(api: { token?: string; tokenFile: string }): { token: string; source: string } {
  if (api.token) return { token: api.token, source: 'QUBINODE_API_TOKEN' };
  if (existsSync(api.tokenFile)) {
    const token = readFileSync(api.tokenFile, 'utf8').trim();
    if (token.length < 16) throw new Error(`${api.tokenFile}: the API token must be at least 16 characters`);
    return { token, source: api.tokenFile };
  }
  mkdirSync(path.dirname(api.tokenFile), { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(api.tokenFile, `${token}\n`, { mode: 0o600 });
  chmodSync(api.tokenFile, 0o600);
  return { token, source: `${api.tokenFile} (new)` };
}
