import type { Role } from './caller';

/** The minimum role a route needs, or `public` for the few routes that authenticate otherwise (or not at all). */
export type Access = 'public' | Role;

/**
 * Every route of the API and what it needs, keyed `METHOD pattern` exactly as registered. Authorisation
 * goes by the route the router matched, so spellings of a path (percent-encoding, case) cannot dodge
 * it; a registered route missing here stops the server at start-up (deny by default).
 */
export const ROUTE_POLICY: Readonly<Record<string, Access>> = {
  'GET /healthz': 'public',
  'GET /api/health': 'viewer',
  // Counts and latencies only, all of it a viewer can already list; a scraper gets a viewer token, never more.
  'GET /metrics': 'viewer',
  'GET /api/whoami': 'viewer',
  'GET /api/dags': 'viewer',
  'GET /api/dags/*': 'viewer',
  'GET /api/runs': 'viewer',
  // Run analytics per DAG (success rate, durations, failure categories): what a viewer can already list, summed.
  'GET /api/stats': 'viewer',
  'POST /api/runs': 'operator',
  // A run's status, and its task logs (`<run id>/logs`, read on the workers that wrote them).
  'GET /api/runs/*': 'viewer',
  'POST /api/runs/*': 'operator',
  'GET /api/approvals': 'viewer',
  'POST /api/approvals': 'approver',
  'POST /api/aborts': 'operator',
  'POST /api/retries': 'operator',
  'POST /api/rollbacks': 'operator',
  'GET /api/rollouts/*': 'viewer',
  'GET /api/repos': 'viewer',
  'GET /api/repos/:name': 'viewer',
  'POST /api/repos/:name/sync': 'operator',
  // Known hosts: queues, pollers, worker versions, OS facts and labels.
  'GET /api/hosts': 'viewer',
  'GET /api/audit': 'admin',
  'GET /api/users': 'admin',
  'POST /api/users': 'admin',
  'PATCH /api/users/:name': 'admin',
  'DELETE /api/users/:name': 'admin',
  'GET /api/tokens': 'admin',
  'POST /api/tokens': 'admin',
  'DELETE /api/tokens/:id': 'admin',
  // Repository policies (docs/repo-policy.md): operators read what their DAGs may do; admins set it;
  // approvers approve an exception (never its author) or a DAG version for production hosts.
  'GET /api/policies': 'operator',
  'GET /api/policies/:repo': 'operator',
  'PUT /api/policies/:repo': 'admin',
  'DELETE /api/policies/:repo': 'admin',
  'POST /api/policy-exceptions': 'approver',
  'POST /api/policy-versions': 'approver',
  // The web page's shell and bundle hold no data (api/ui-assets.ts); what it shows comes from /api as the signed-in user.
  'GET /ui': 'public',
  'GET /ui/*': 'public',
  'GET /ui/assets/app.js': 'public',
  'GET /ui/assets/app.css': 'public',
  // Sign-in checks the token it is given itself (api/ui-session.ts); who-am-I and sign-out need a session or a token.
  'POST /ui/session': 'public',
  'GET /ui/session': 'viewer',
  'DELETE /ui/session': 'viewer',
  // How one may sign in, and the identity provider's round trip (api/oidc-login.ts): strangers start there.
  'GET /ui/session/methods': 'public',
  'GET /ui/session/oidc': 'public',
  'GET /ui/session/oidc/callback': 'public',
};

/** Forge pushes and DAG triggers prove themselves by their signatures (api/webhooks.ts), not by a caller token. */
const PUBLIC_PREFIXES = ['/hooks/', '/trigger/'];

export class MissingRoutePolicyError extends Error {
  override readonly name = 'MissingRoutePolicyError';
}

/** What a registered route needs; HEAD follows GET. Undefined when the route is not in the table. */
export function routeAccess(method: string, pattern: string): Access | undefined {
  const verb = method === 'HEAD' ? 'GET' : method;
  const listed = ROUTE_POLICY[`${verb} ${pattern}`];
  if (listed) return listed;
  if (verb === 'POST' && PUBLIC_PREFIXES.some((prefix) => pattern.startsWith(prefix))) return 'public';
  return undefined;
}

/** Throws when a route is registered without a policy, so the server never starts with an unguarded route. */
export function requireRoutePolicy(methods: string | string[], pattern: string): void {
  for (const method of Array.isArray(methods) ? methods : [methods]) {
    if (routeAccess(method, pattern) === undefined) throw new MissingRoutePolicyError(`route ${method} ${pattern} has no entry in api/route-policy.ts; every route needs one`);
  }
}
