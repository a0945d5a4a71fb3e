import type { Role } from '../client/identity';

export { ROLES } from '../client/identity';
export type { Role };

/** How a caller proved who they are. */
export type CallerVia = 'token' | 'oidc' | 'bootstrap';

/** The authenticated identity behind a request; handlers act as this user, never as a name from the body. */
export interface Caller {
  user: string;
  roles: Role[];
  via: CallerVia;
  /** The peer address the request came from (as Fastify sees it). */
  address: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authorisation hook on every non-public route before its handler runs. */
    caller?: Caller;
  }
}

/**
 * Whether `roles` meet a route's minimum role: admin meets every role, any role meets viewer,
 * operator and approver are separate duties (neither includes the other).
 */
export function meetsRole(roles: readonly Role[], minimum: Role): boolean {
  if (roles.includes('admin')) return true;
  if (minimum === 'viewer') return roles.length > 0;
  return roles.includes(minimum);
}

/** The caller set by the authorisation hook; a handler of a non-public route can rely on it. */
export function callerOf(request: { caller?: Caller }): Caller {
  if (!request.caller) throw new Error('no authenticated caller on a route that needs one (is the route in the policy table?)');
  return request.caller;
}

/** A path wildcard that held a bad percent-encoding: the caller's mistake (400), not a server failure. */
export class BadPathError extends Error {
  override readonly name = 'BadPathError';
  readonly statusCode = 400;
}

/** Run and rollout ids travel raw or percent-encoded in the path's wildcard. */
export function wildcardParam(request: { params: unknown }): string {
  const raw = (request.params as { '*'?: string })['*'] ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadPathError('the path holds a malformed percent-encoding');
  }
}
