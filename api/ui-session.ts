import { createHash, randomBytes } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { authenticateToken, AuthenticationError, tokensMatch, type Authenticators } from './auth';
import type { AuditTrail } from './audit-trail';
import { callerOf, type Caller, type Role } from './caller';
import { IdentityUnavailableError } from './identity-cache';

/** Name of the browser session cookie; it holds an opaque id, never the token. */
export const SESSION_COOKIE = 'qubinode_session';

const ABSOLUTE_LIFETIME_MS = 12 * 60 * 60 * 1000;
const IDLE_LIFETIME_MS = 2 * 60 * 60 * 1000;
/** Sessions held at once; the oldest go first. */
const MAX_SESSIONS = 10_000;
/** Sessions one user holds at once, so one account signing in over and over cannot push everyone else out. */
const MAX_SESSIONS_PER_USER = 20;
/** Sign-in attempts one source address may make per minute: plenty for a person, nothing for guessing tokens. */
export const SIGN_IN_ATTEMPTS_PER_MINUTE = 30;
/** Source addresses the sign-in limiter tracks at once; the least recent are forgotten first. */
const SIGN_IN_SOURCES_KEPT = 10_000;
/** 32 random bytes in base64url. */
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

/**
 * What a session signed in through the identity provider holds (api/oidc-login.ts): the identity of its
 * last ID token, and the refresh token with which it asks the provider again.
 */
export interface SsoGrant {
  identity: { user: string; roles: Role[] };
  /** When the last ID token expires (epoch ms). */
  expiresAt: number;
  /** When the session last asked the provider about the user (epoch ms). */
  checkedAt: number;
  refreshToken?: string;
  /** A renewal under way, which the session's concurrent requests share. */
  renewing?: Promise<void>;
}

/** A signed-in browser: the credential it signed in with, re-checked on every request like a bearer header. */
export interface BrowserSession {
  /** The personal token or OIDC JWT given at sign-in (for an SSO sign-in, its first ID token). */
  readonly credential: string;
  /** Set when the browser signed in through the identity provider: then this, not the credential, is checked. */
  readonly sso?: SsoGrant;
  readonly csrf: string;
  /** Who signed in (for the per-user cap only: roles and existence are read again on every request). */
  readonly user: string;
  readonly createdAt: number;
  lastSeen: number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The browser session a request was authenticated by, when it came with the session cookie and no bearer header. */
    uiSession?: BrowserSession;
  }
}

/** The server's sessions are keyed by a hash of the id, so the id itself is held nowhere on the server. */
const keyOf = (id: string): string => createHash('sha256').update(id).digest('base64url');

/**
 * Browser sessions, in this process's memory only: an API restart signs every browser out. Each
 * has an absolute lifetime of 12 h and ends after 2 h without a request.
 */
export class BrowserSessions {
  private readonly byKey = new Map<string, BrowserSession>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A new session for `credential`; its id goes to the browser's cookie. */
  create(credential: string, user: string, sso?: SsoGrant): { id: string; session: BrowserSession } {
    const at = this.now();
    this.dropExpired(at);
    const own = [...this.byKey].filter(([, session]) => session.user === user);
    for (const [key] of own.slice(0, Math.max(0, own.length - MAX_SESSIONS_PER_USER + 1))) this.byKey.delete(key);
    while (this.byKey.size >= MAX_SESSIONS) {
      const oldest = this.byKey.keys().next();
      if (oldest.done) break;
      this.byKey.delete(oldest.value);
    }
    const id = randomBytes(32).toString('base64url');
    const session: BrowserSession = { credential, csrf: randomBytes(32).toString('base64url'), user, createdAt: at, lastSeen: at, ...(sso ? { sso } : {}) };
    this.byKey.set(keyOf(id), session);
    return { id, session };
  }

  /** The live session behind a cookie value, marked as seen now; undefined when unknown, ended or expired. */
  touch(id: string): BrowserSession | undefined {
    if (!SESSION_ID.test(id)) return undefined;
    const key = keyOf(id);
    const session = this.byKey.get(key);
    if (!session) return undefined;
    const at = this.now();
    if (this.expired(session, at)) {
      this.byKey.delete(key);
      return undefined;
    }
    session.lastSeen = at;
    return session;
  }

  /** The Set-Cookie value that hands a browser its session id. */
  cookieFor(request: FastifyRequest, id: string, publicOrigin: string | undefined): string {
    return sessionCookieHeader(request, publicOrigin, { name: SESSION_COOKIE, value: id, path: '/', sameSite: 'Strict', maxAgeSeconds: ABSOLUTE_LIFETIME_MS / 1000 });
  }

  /** Ends a session (sign-out, or its credential no longer authenticates). */
  end(session: BrowserSession): void {
    for (const [key, held] of this.byKey) if (held === session) this.byKey.delete(key);
  }

  private expired(session: BrowserSession, at: number): boolean {
    return at - session.createdAt >= ABSOLUTE_LIFETIME_MS || at - session.lastSeen >= IDLE_LIFETIME_MS;
  }

  private dropExpired(at: number): void {
    for (const [key, session] of this.byKey) if (this.expired(session, at)) this.byKey.delete(key);
  }
}

/** A cookie's value from a Cookie header (the first of that name; by default the session cookie), if any. */
export function sessionCookie(header: string | undefined, name = SESSION_COOKIE): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The origin browsers must send on writes: QUBINODE_PUBLIC_URL when set (behind a TLS proxy the
 * API cannot tell its public address), else the scheme and Host of the request itself.
 */
function ownOrigin(request: FastifyRequest, publicOrigin: string | undefined): string {
  return (publicOrigin ?? `${request.protocol}://${request.host}`).toLowerCase();
}

function originRefusal(request: FastifyRequest, publicOrigin: string | undefined): string | undefined {
  const origin = request.headers.origin;
  if (typeof origin !== 'string' || origin === '') return 'forbidden: a browser request that changes something needs an Origin header';
  if (origin.toLowerCase() !== ownOrigin(request, publicOrigin)) return 'forbidden: the Origin header is not this server';
  return undefined;
}

/**
 * Why a request authenticated by the session cookie may not go on, if it may not: anything but a
 * read needs the session's CSRF token in X-CSRF-Token and this server's own Origin, so another
 * site cannot make a signed-in browser act.
 */
export function csrfRefusal(request: FastifyRequest, session: BrowserSession, publicOrigin: string | undefined): string | undefined {
  if (request.method === 'GET' || request.method === 'HEAD') return undefined;
  const given = request.headers['x-csrf-token'];
  if (typeof given !== 'string' || !tokensMatch(given, session.csrf)) return 'forbidden: missing or wrong X-CSRF-Token';
  return originRefusal(request, publicOrigin);
}

/** A Set-Cookie value for one of the UI's HttpOnly cookies (Secure when the browser reaches the API over https). */
export function sessionCookieHeader(request: FastifyRequest, publicOrigin: string | undefined, cookie: { name: string; value: string; path: string; sameSite: 'Strict' | 'Lax'; maxAgeSeconds: number }): string {
  const secure = request.protocol === 'https' || (publicOrigin ?? '').startsWith('https:');
  return `${cookie.name}=${cookie.value}; HttpOnly; SameSite=${cookie.sameSite}; Path=${cookie.path}${secure ? '; Secure' : ''}; Max-Age=${cookie.maxAgeSeconds}`;
}

/** Tells the browser to forget its session cookie. */
export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply, publicOrigin: string | undefined): FastifyReply {
  return reply.header('set-cookie', sessionCookieHeader(request, publicOrigin, { name: SESSION_COOKIE, value: '', path: '/', sameSite: 'Strict', maxAgeSeconds: 0 }));
}

/**
 * Who the browser behind a session is now. A session signed in with a token is checked like a bearer
 * header; one signed in through the identity provider is vouched for by the provider again (api/oidc-login.ts).
 */
export function sessionCaller(auth: Authenticators, session: BrowserSession, address: string): Promise<Caller> {
  if (!session.sso) return authenticateToken(auth, session.credential, address);
  if (!auth.oidcLogin) return Promise.reject(new AuthenticationError('SSO session, but sign-in through the identity provider is no longer configured'));
  return auth.oidcLogin.sessionCaller(session.sso, address);
}

const SignInBody = z.object({ token: z.string().min(1).max(8192) }).strict();

export interface UiSessionOptions {
  sessions: BrowserSessions;
  auth: Authenticators;
  audit: AuditTrail;
  /** Where the page links a run in the Temporal Web UI. */
  temporal: { uiUrl: string; namespace: string };
  publicOrigin?: string;
  /** Default {@link SIGN_IN_ATTEMPTS_PER_MINUTE}; beyond it, 429 with Retry-After before the token is looked at. */
  signInAttemptsPerMinute?: number;
  /** Further sign-in routes (the identity provider's), registered under the same per-address limit. */
  moreSignInRoutes?: (scope: FastifyInstance) => void;
}

/** How a browser may sign in: always with a token; through the identity provider when one is configured for it. */
export interface SignInMethods {
  token: true;
  sso: { name: string; start: string } | null;
}

/** POST /ui/session (sign in with a token), GET /ui/session (who am I, and the CSRF token), DELETE /ui/session (sign out). */
export function registerUiSessionRoutes(app: FastifyInstance, options: UiSessionOptions): void {
  const { sessions, auth, audit, temporal, publicOrigin } = options;

  // Sign-in is open to strangers: each source address gets a bounded number of tries before any token is checked.
  const signInScope = async (scope: FastifyInstance): Promise<void> => {
    const kept = { cache: SIGN_IN_SOURCES_KEPT };
    await scope.register(rateLimit, { global: false, ...kept });
    const attempts = scope.createRateLimit({ ...kept, max: options.signInAttemptsPerMinute ?? SIGN_IN_ATTEMPTS_PER_MINUTE, timeWindow: 60_000 });
    scope.addHook('onRequest', async (request, reply) => {
      const state = await attempts(request);
      if (state.isAllowed || !state.isExceeded) return undefined;
      request.log.info('sign-in attempts over the limit of this source address');
      return reply.code(429).header('retry-after', String(Math.max(1, state.ttlInSeconds))).send({ error: 'too many sign-in attempts from this address; try again after Retry-After seconds' });
    });
    scope.post('/ui/session', { bodyLimit: 16 * 1024 }, signIn);
    options.moreSignInRoutes?.(scope);
  };
  void app.register(signInScope);

  async function signIn(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    // A stranger's page must not sign a browser in as the stranger (login CSRF).
    const refusal = originRefusal(request, publicOrigin);
    if (refusal) return reply.code(403).send({ error: refusal });
    const body = SignInBody.safeParse(request.body);
    // Nothing of the body is echoed: it holds a token.
    if (!body.success) return reply.code(400).send({ error: 'the body must be {"token": "<personal token or OIDC JWT>"}' });
    let caller;
    try {
      caller = await authenticateToken(auth, body.data.token, request.ip);
    } catch (error) {
      if (error instanceof AuthenticationError) {
        request.log.info({ reason: error.message }, 'sign-in refused');
        return reply.code(401).send({ error: 'that token was not accepted' });
      }
      if (error instanceof IdentityUnavailableError) {
        request.log.error({ err: error.message }, 'identity store unavailable');
        return reply.code(503).send({ error: 'identity store unavailable', requestId: request.id });
      }
      throw error;
    }
    const previous = sessionCookie(request.headers.cookie);
    const replaced = previous === undefined ? undefined : sessions.touch(previous);
    if (replaced) sessions.end(replaced);
    const { id, session } = sessions.create(body.data.token, caller.user);
    await audit.write(request, { action: 'session.start', target: caller.user, outcome: 'ok' }, caller);
    reply.header('set-cookie', sessions.cookieFor(request, id, publicOrigin));
    return reply.header('cache-control', 'no-store').send({ user: caller.user, roles: caller.roles, csrf: session.csrf, temporal });
  }

  app.get('/ui/session/methods', async (_request, reply) => {
    const methods: SignInMethods = { token: true, sso: auth.oidcLogin ? { name: auth.oidcLogin.providerName, start: '/ui/session/oidc' } : null };
    return reply.header('cache-control', 'no-store').send(methods);
  });

  app.get('/ui/session', async (request, reply) => {
    const caller = callerOf(request);
    // A bearer caller has no session and needs no CSRF token.
    return reply.header('cache-control', 'no-store').send({ user: caller.user, roles: caller.roles, csrf: request.uiSession?.csrf ?? null, temporal });
  });

  app.delete('/ui/session', async (request, reply) => {
    if (request.uiSession) {
      sessions.end(request.uiSession);
      await audit.write(request, { action: 'session.end', target: callerOf(request).user, outcome: 'ok' });
    }
    return clearSessionCookie(request, reply, publicOrigin).code(204).send();
  });
}
