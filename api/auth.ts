import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BOOTSTRAP_USER, TOKEN_PREFIX, tokenHash } from '../client/identity';
import type { Caller } from './caller';
import type { IdentityCache } from './identity-cache';
import { looksLikeJwt, OidcRefusedError, type OidcIdentity } from './oidc';
import type { OidcLogin } from './oidc-login';

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
 * is written to the file (mode 0600) so `qubinode up` works with no set-up. It authenticates as the
 * admin `bootstrap-admin`, meant for setting up users and for machines without an identity provider.
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

export interface Authenticators {
  /** The shared bootstrap token (admin). */
  bootstrapToken: string;
  identities: IdentityCache;
  /** Set when an identity provider is configured. */
  oidc?: (token: string) => Promise<OidcIdentity>;
  /** Set when browsers may sign in through that provider (QUBINODE_OIDC_CLIENT_ID). */
  oidcLogin?: OidcLogin;
}

/** Why a bearer token was not accepted; the reason goes to the server log, the caller hears only 401. */
export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
}

/**
 * Who presents this bearer token: a personal token (`qnt_…`, looked up by its hash), an
 * identity-provider JWT, or the bootstrap token. Throws AuthenticationError otherwise.
 */
export async function authenticate(auth: Authenticators, header: string | undefined, address: string): Promise<Caller> {
  const given = bearerToken(header);
  if (!given) throw new AuthenticationError('no bearer token');
  return authenticateToken(auth, given, address);
}

/**
 * Who presents this token, whether it came in a bearer header or is the credential behind a browser
 * session (api/ui-session.ts): both go through the same checks, so a revoked token ends both alike.
 */
export async function authenticateToken(auth: Authenticators, given: string, address: string): Promise<Caller> {
  if (given.startsWith(TOKEN_PREFIX)) {
    const hash = tokenHash(given);
    let { tokensByHash, usersByName } = await auth.identities.get();
    // A token issued a moment ago may be newer than this copy: look once more in a fresh one.
    if (!tokensByHash.has(hash)) ({ tokensByHash, usersByName } = await auth.identities.get(0));
    const token = tokensByHash.get(hash);
    if (!token) throw new AuthenticationError('unknown personal token');
    if (token.revoked) throw new AuthenticationError(`token ${token.id} was revoked`);
    if (!(Date.parse(token.expires) > Date.now())) throw new AuthenticationError(`token ${token.id} expired`);
    const user = usersByName.get(token.user);
    if (!user || user.disabled) throw new AuthenticationError(`token ${token.id}: user ${token.user} is removed or disabled`);
    return { user: user.name, roles: [...user.roles], via: 'token', address };
  }
  if (auth.oidc && looksLikeJwt(given)) {
    try {
      const identity = await auth.oidc(given);
      return { ...identity, via: 'oidc', address };
    } catch (error) {
      if (error instanceof OidcRefusedError) throw new AuthenticationError(error.message);
      throw error;
    }
  }
  if (tokensMatch(given, auth.bootstrapToken)) return { user: BOOTSTRAP_USER, roles: ['admin'], via: 'bootstrap', address };
  throw new AuthenticationError('unknown bearer token');
}
