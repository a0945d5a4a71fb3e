import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { OidcSettings } from '../config/oidc-config';
import { AuthenticationError, tokensMatch } from './auth';
import type { AuditTrail } from './audit-trail';
import type { Caller } from './caller';
import { createIdTokenVerifier, OidcRefusedError, type OidcTokenIdentity, type oidcKeys } from './oidc';
import { OidcGrantRefusedError, OidcProviderClient, OidcProviderError } from './oidc-provider-client';
import { sessionCookieHeader, sessionCookie, type BrowserSessions, type SsoGrant } from './ui-session';

/** The cookie that ties a sign-in's callback to the browser that started it (login CSRF); it holds the state only. */
const STATE_COOKIE = 'qubinode_oidc_state';
/** A sign-in must come back from the provider within this time. */
const PENDING_LIFETIME_MS = 10 * 60 * 1000;
/** Sign-ins under way at once; the oldest are forgotten first (each start is already rate limited per address). */
const PENDING_MAX = 10_000;
/** Where a signed-in browser may be sent back to: a page of the web UI, nothing else. */
const NEXT_PAGE = /^\/ui(?:\/[A-Za-z0-9._~%-]+)*\/?$/;

/** `next` when it names a page of the web UI (no dot segments, encoded or not; no encoded slashes), else the runs page. */
export function nextPage(next: string | undefined): string {
  if (next === undefined || next.length > 512 || !NEXT_PAGE.test(next)) return '/ui/';
  const segments = next.split('/');
  if (segments.some((segment) => /^(\.|%2e){1,2}$/i.test(segment)) || /%2f|%5c/i.test(next)) return '/ui/';
  return next;
}
/** Why the sign-in page is shown again; the page has a fixed text for each, so nothing of the provider's answer is echoed. */
export type SsoFailure = 'denied' | 'expired' | 'unavailable' | 'refused';

interface PendingSignIn {
  nonce: string;
  codeVerifier: string;
  next: string;
  startedAt: number;
}

const CallbackQuery = z.object({
  state: z.string().regex(/^[A-Za-z0-9_-]{43}$/).optional(),
  code: z.string().min(1).max(4096).optional(),
  error: z.string().max(200).optional(),
});

const random = (): string => randomBytes(32).toString('base64url');

/**
 * Browser sign-in through the identity provider: authorization code with PKCE (S256), state bound to
 * the browser by a cookie, nonce checked in the ID token. The ID token's claims give the user and
 * roles, exactly as a bearer JWT's would (api/oidc.ts). A session signed in this way asks the provider
 * again with its refresh token every QUBINODE_OIDC_SESSION_RECHECK_SECONDS (30 by default), so a user
 * disabled there is signed out here within that time; without a refresh token, the session ends when
 * its ID token expires.
 */
export class OidcLogin {
  private readonly pending = new Map<string, PendingSignIn>();
  private readonly verifyIdToken: (token: string, nonce?: string) => Promise<OidcTokenIdentity>;
  private readonly recheckMs: number;

  constructor(
    settings: OidcSettings & { login: NonNullable<OidcSettings['login']> },
    keys: ReturnType<typeof oidcKeys>,
    private readonly provider: OidcProviderClient = new OidcProviderClient(settings.issuer, settings.login),
    private readonly now: () => number = Date.now,
  ) {
    this.verifyIdToken = createIdTokenVerifier(settings, settings.login.clientId, keys);
    this.recheckMs = settings.login.recheckMs;
  }

  get providerName(): string {
    return this.provider.providerName;
  }

  /** A new sign-in: where to send the browser, and the state its cookie must carry back. */
  async start(next: string | undefined): Promise<{ url: string; state: string }> {
    const at = this.now();
    for (const [state, pending] of this.pending) if (at - pending.startedAt >= PENDING_LIFETIME_MS) this.pending.delete(state);
    while (this.pending.size >= PENDING_MAX) {
      const oldest = this.pending.keys().next();
      if (oldest.done) break;
      this.pending.delete(oldest.value);
    }
    const state = random();
    const codeVerifier = random();
    const nonce = random();
    const url = await this.provider.authorizationUrl({ state, nonce, codeChallenge: createHash('sha256').update(codeVerifier).digest('base64url') });
    this.pending.set(state, { nonce, codeVerifier, next: nextPage(next), startedAt: at });
    return { url, state };
  }

  /** Completes a sign-in (once: the state is spent whatever the outcome); its identity, tokens and the page to return to. */
  async finish(state: string, code: string): Promise<{ identity: OidcTokenIdentity; grant: SsoGrant; idToken: string; next: string }> {
    const pending = this.pending.get(state);
    this.pending.delete(state);
    if (!pending || this.now() - pending.startedAt >= PENDING_LIFETIME_MS) throw new SsoSignInError('expired', 'no sign-in under way with that state (unknown, used or over 10 minutes old)');
    const tokens = await this.provider.exchangeCode(code, pending.codeVerifier);
    const identity = await this.verifyIdToken(tokens.idToken, pending.nonce);
    const grant: SsoGrant = { identity: { user: identity.user, roles: identity.roles }, expiresAt: identity.expiresAt, checkedAt: this.now(), ...(tokens.refreshToken ? { refreshToken: tokens.refreshToken } : {}) };
    return { identity, grant, idToken: tokens.idToken, next: pending.next };
  }

  /** Who a session signed in through the provider is now; throws AuthenticationError when it must end. */
  async sessionCaller(grant: SsoGrant, address: string): Promise<Caller> {
    const at = this.now();
    if (at - grant.checkedAt >= this.recheckMs || at >= grant.expiresAt) {
      grant.renewing ??= this.renew(grant).finally(() => {
        delete grant.renewing;
      });
      await grant.renewing;
    }
    return { user: grant.identity.user, roles: [...grant.identity.roles], via: 'oidc', address };
  }

  private async renew(grant: SsoGrant): Promise<void> {
    if (!grant.refreshToken) {
      if (this.now() >= grant.expiresAt) throw new AuthenticationError('the ID token of the SSO session expired and the provider gave no refresh token');
      return;
    }
    try {
      const tokens = await this.provider.refresh(grant.refreshToken);
      const identity = await this.verifyIdToken(tokens.idToken);
      if (identity.user !== grant.identity.user) throw new AuthenticationError('the renewed ID token names another user');
      grant.identity = { user: identity.user, roles: identity.roles };
      grant.expiresAt = identity.expiresAt;
      grant.checkedAt = this.now();
      if (tokens.refreshToken) grant.refreshToken = tokens.refreshToken;
    } catch (error) {
      if (error instanceof OidcGrantRefusedError || error instanceof OidcRefusedError) throw new AuthenticationError(`SSO session not renewed: ${error.message}`);
      // The provider is unreachable: the session lives on while its ID token does, and asks again after the
      // recheck time, not on each request (each would wait out the provider's timeout).
      if (error instanceof OidcProviderError && this.now() < grant.expiresAt) {
        grant.checkedAt = this.now();
        return;
      }
      if (error instanceof OidcProviderError) throw new AuthenticationError(`SSO session not renewed and its ID token expired: ${error.message}`);
      throw error;
    }
  }
}

/** A sign-in that did not complete, with the reason the sign-in page shows. */
export class SsoSignInError extends Error {
  override readonly name = 'SsoSignInError';
  constructor(
    readonly failure: SsoFailure,
    message: string,
  ) {
    super(message);
  }
}

function stateCookie(request: FastifyRequest): string | undefined {
  return sessionCookie(request.headers.cookie, STATE_COOKIE);
}

export interface OidcLoginRoutesOptions {
  /** Undefined when no client is configured for browsers: both routes then answer 404. */
  login: OidcLogin | undefined;
  sessions: BrowserSessions;
  audit: AuditTrail;
  publicOrigin: string | undefined;
}

/**
 * GET /ui/session/oidc (start: to the provider) and GET /ui/session/oidc/callback (back from it: a
 * session cookie and the page the browser came from, or the sign-in page with a reason). Registered in
 * the sign-in scope of api/ui-session.ts, so both count against its per-address limit.
 */
export function registerOidcLoginRoutes(scope: FastifyInstance, options: OidcLoginRoutesOptions): void {
  const { login, sessions, audit, publicOrigin } = options;
  if (!login) {
    const notConfigured = async (_request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => reply.code(404).send({ error: 'sign-in through an identity provider is not configured (QUBINODE_OIDC_CLIENT_ID)' });
    scope.get('/ui/session/oidc', notConfigured);
    scope.get('/ui/session/oidc/callback', notConfigured);
    return;
  }
  const toSignIn = (reply: FastifyReply, failure: SsoFailure): FastifyReply => reply.header('cache-control', 'no-store').redirect(`/ui/sign-in?sso=${failure}`, 302);
  // Lax, not Strict: the callback is a navigation from the provider's site, and the cookie must come with it.
  const stateCookieHeader = (request: FastifyRequest, value: string, maxAgeSeconds: number): string =>
    sessionCookieHeader(request, publicOrigin, { name: STATE_COOKIE, value, path: '/ui/session/oidc', sameSite: 'Lax', maxAgeSeconds });

  scope.get('/ui/session/oidc', async (request, reply) => {
    const next = (request.query as Record<string, unknown> | undefined)?.next;
    let started;
    try {
      started = await login.start(typeof next === 'string' ? next : undefined);
    } catch (error) {
      if (!(error instanceof OidcProviderError)) throw error;
      request.log.error({ err: error.message }, 'SSO sign-in could not start');
      return toSignIn(reply, 'unavailable');
    }
    return reply.header('set-cookie', stateCookieHeader(request, started.state, PENDING_LIFETIME_MS / 1000)).header('cache-control', 'no-store').redirect(started.url, 302);
  });

  scope.get('/ui/session/oidc/callback', async (request, reply) => {
    reply.header('set-cookie', stateCookieHeader(request, '', 0));
    const query = CallbackQuery.safeParse(request.query ?? {});
    const state = query.success ? query.data.state : undefined;
    const cookie = stateCookie(request);
    // The state must be the one this browser's cookie carries: a callback URL made for someone else signs no one in.
    if (!query.success || !state || !cookie || !tokensMatch(cookie, state)) {
      request.log.info('SSO callback refused: missing or foreign state');
      return toSignIn(reply, 'expired');
    }
    if (query.data.error !== undefined || !query.data.code) {
      request.log.info({ providerError: /^[a-z_]{1,64}$/.test(query.data.error ?? '') ? query.data.error : 'other' }, 'SSO sign-in declined by the provider');
      return toSignIn(reply, 'denied');
    }
    let finished;
    try {
      finished = await login.finish(state, query.data.code);
    } catch (error) {
      if (error instanceof SsoSignInError || error instanceof OidcGrantRefusedError || error instanceof OidcRefusedError) {
        request.log.info({ reason: error.message }, 'SSO sign-in refused');
        return toSignIn(reply, error instanceof SsoSignInError ? error.failure : 'refused');
      }
      if (error instanceof OidcProviderError) {
        request.log.error({ err: error.message }, 'SSO sign-in failed at the provider');
        return toSignIn(reply, 'unavailable');
      }
      throw error;
    }
    const previous = sessionCookie(request.headers.cookie);
    const replaced = previous === undefined ? undefined : sessions.touch(previous);
    if (replaced) sessions.end(replaced);
    const { id } = sessions.create(finished.idToken, finished.identity.user, finished.grant);
    const caller: Caller = { user: finished.identity.user, roles: [...finished.identity.roles], via: 'oidc', address: request.ip };
    await audit.write(request, { action: 'session.start', target: caller.user, outcome: 'ok', detail: 'signed in through the identity provider' }, caller);
    return reply.header('set-cookie', sessions.cookieFor(request, id, publicOrigin)).header('cache-control', 'no-store').redirect(finished.next, 302);
  });
}
