import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose';
import type { OidcSettings } from '../config/config';
import { ROLES, type Role } from './caller';

/** Asymmetric algorithms only: a key set never holds a shared secret, so an HS256 token signed with a public key is refused. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export class OidcRefusedError extends Error {
  override readonly name = 'OidcRefusedError';
}

export interface OidcIdentity {
  user: string;
  roles: Role[];
}

/** A claim by dotted path (`realm_access.roles`); own properties only. */
function claim(payload: JWTPayload, dotted: string): unknown {
  let value: unknown = payload;
  for (const key of dotted.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.prototype.hasOwnProperty.call(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Roles named by the claim: an array of strings, or one string of names separated by spaces or commas. */
export function rolesFromClaim(value: unknown, prefix: string): Role[] {
  const names = Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : typeof value === 'string' ? value.split(/[\s,]+/) : [];
  const wanted = new Set(names.filter((name) => name.startsWith(prefix)).map((name) => name.slice(prefix.length)));
  return ROLES.filter((role) => wanted.has(role));
}

/** Looks like a compact JWS (three base64url parts): worth handing to the verifier. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

/** The provider's signing keys (fetched and cached by jose, refetched for an unknown key id); one set for every verifier. */
export function oidcKeys(settings: OidcSettings): ReturnType<typeof createRemoteJWKSet> {
  return createRemoteJWKSet(new URL(settings.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
}

type Keys = ReturnType<typeof oidcKeys>;

/** A verified identity and when the token it came from expires (epoch ms). */
export interface OidcTokenIdentity extends OidcIdentity {
  expiresAt: number;
}

async function verifiedIdentity(token: string, keys: Keys, settings: OidcSettings, audience: string, nonce?: string): Promise<OidcTokenIdentity> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, { issuer: settings.issuer, audience, algorithms: ALGORITHMS, clockTolerance: 30, requiredClaims: ['exp'] }));
  } catch (error) {
    if (error instanceof errors.JOSEError) throw new OidcRefusedError(`JWT refused: ${error.code}`);
    throw error;
  }
  if (nonce !== undefined && payload.nonce !== nonce) throw new OidcRefusedError('JWT refused: the ID token does not carry this sign-in\'s nonce');
  const user = claim(payload, settings.usernameClaim);
  if (typeof user !== 'string' || !/^[^\s\p{Cc}]{1,128}$/u.test(user)) throw new OidcRefusedError(`JWT refused: claim "${settings.usernameClaim}" must name the user`);
  return { user, roles: rolesFromClaim(claim(payload, settings.rolesClaim), settings.rolePrefix), expiresAt: (payload.exp as number) * 1000 };
}

/**
 * Verifies identity-provider JWTs presented as bearer tokens: signature, issuer, audience, expiry and
 * not-before. The user comes from the username claim; roles from the roles claim. A token naming no
 * Qubinode role authenticates but meets no route's minimum role, so it is refused everywhere except
 * public routes.
 */
export function createOidcVerifier(settings: OidcSettings, keys: Keys = oidcKeys(settings)): (token: string) => Promise<OidcIdentity> {
  return async (token) => {
    const { user, roles } = await verifiedIdentity(token, keys, settings, settings.audience);
    return { user, roles };
  };
}

/**
 * Verifies ID tokens of the browser sign-in (api/oidc-login.ts): the same checks and claims, but the
 * audience is the web page's client id, and at sign-in the nonce must be the one this sign-in sent.
 */
export function createIdTokenVerifier(settings: OidcSettings, clientId: string, keys: Keys): (token: string, nonce?: string) => Promise<OidcTokenIdentity> {
  return (token, nonce) => verifiedIdentity(token, keys, settings, clientId, nonce);
}
