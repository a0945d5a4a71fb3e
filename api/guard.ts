import type { FastifyInstance } from 'fastify';
import { authenticate, AuthenticationError, type Authenticators } from './auth';
import { AUDIT_ACTIONS, type AuditTrail } from './audit-trail';
import { meetsRole } from './caller';
import { IdentityUnavailableError } from './identity-cache';
import { requireRoutePolicy, routeAccess } from './route-policy';
import { clearSessionCookie, csrfRefusal, sessionCaller, sessionCookie, type BrowserSessions } from './ui-session';

/** Browser sessions the guard accepts in place of a bearer header, and the origin their writes must come from. */
export interface BrowserAuth {
  sessions: BrowserSessions;
  publicOrigin?: string;
}

/**
 * Installs authorisation and the answers strangers get. Authorisation runs after routing, on the
 * route pattern the router matched (so `/%61pi/dags` is judged as `/api/dags`); a route missing from
 * the policy table stops start-up. Unknown paths get a bare 404; failures a bare 500 with a request
 * id, their details going to the server log only. A browser's session cookie stands in for the
 * bearer header (api/ui-session.ts); its writes need the session's CSRF token and this server's Origin.
 */
export function installGuard(app: FastifyInstance, auth: Authenticators, audit: AuditTrail, browser?: BrowserAuth): void {
  app.addHook('onRoute', (route) => requireRoutePolicy(route.method, route.url ?? route.path));

  app.addHook('onRequest', async (request, reply) => {
    if (request.is404) return;
    const pattern = request.routeOptions.url ?? '';
    const access = routeAccess(request.method, pattern);
    // The start-up check makes this unreachable; if it is reached anyway, refuse.
    if (access === undefined) return reply.code(403).send({ error: 'forbidden' });
    if (access === 'public') return;
    // A bearer header decides when present; otherwise a browser's session cookie may stand in for it.
    const cookie = request.headers.authorization === undefined && browser ? sessionCookie(request.headers.cookie) : undefined;
    let session;
    if (browser && cookie !== undefined) {
      session = browser.sessions.touch(cookie);
      if (!session) {
        request.log.info('session cookie refused: unknown, signed out or expired');
        return clearSessionCookie(request, reply, browser.publicOrigin).code(401).send({ error: 'not signed in: the session ended or is unknown' });
      }
      const refusal = csrfRefusal(request, session, browser.publicOrigin);
      if (refusal) return reply.code(403).send({ error: refusal });
    }
    let caller;
    try {
      caller = session ? await sessionCaller(auth, session, request.ip) : await authenticate(auth, request.headers.authorization, request.ip);
    } catch (error) {
      if (error instanceof AuthenticationError) {
        if (session && browser) {
          // The token behind the session was revoked, expired or its user removed: the session ends with it.
          browser.sessions.end(session);
          request.log.info({ reason: error.message }, 'session credential refused');
          return clearSessionCookie(request, reply, browser.publicOrigin).code(401).send({ error: 'not signed in: the session ended or is unknown' });
        }
        request.log.info({ reason: error.message }, 'bearer token refused');
        return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or invalid bearer token' });
      }
      if (error instanceof IdentityUnavailableError) {
        request.log.error({ err: error.message }, 'identity store unavailable');
        return reply.code(503).send({ error: 'identity store unavailable', requestId: request.id });
      }
      throw error;
    }
    if (!meetsRole(caller.roles, access)) {
      const action = AUDIT_ACTIONS[`${request.method} ${pattern}`];
      if (action) await audit.write(request, { action, target: pattern, outcome: 'refused', detail: `needs role ${access}` }, caller);
      return reply.code(403).send({ error: `forbidden: this needs the ${access} role` });
    }
    request.caller = caller;
    if (session) request.uiSession = session;
  });

  app.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ error: 'not found' }));

  app.setErrorHandler(async (error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      // Fastify's own client errors (bad JSON, body too large, unsupported media type) say nothing secret.
      return reply.code(status).send({ error: error.message, ...(error.code ? { code: error.code } : {}) });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ error: 'internal error', requestId: request.id });
  });
}
