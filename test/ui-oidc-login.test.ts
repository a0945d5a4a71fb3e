import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../bench/free-port';
import { AuthenticationError } from '../api/auth';
import { oidcKeys } from '../api/oidc';
import { OidcLogin } from '../api/oidc-login';
import { OidcProviderError, type OidcProviderClient } from '../api/oidc-provider-client';
import { buildApiServer } from '../api/server';
import { ConfigError, loadConfig } from '../config/config';
import { createLogger } from '../config/logger';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { oidcLoginEnv, startTestIdp, type TestIdp } from './support/oidc-idp';
import { until } from './support/waiting';

// Browser sign-in through a real OpenID Connect provider (oidc-provider on loopback). A browser is
// played by a cookie jar per origin that follows redirects by hand, so each hop can be checked.

const CLIENT_ID = 'qubinode-ui';
const CLIENT_SECRET = 'oidc-client-secret-canary-7d1f0b9e';
const BOOTSTRAP = 'oidc-login-test-bootstrap-0123456789';

interface Hop {
  status: number;
  location?: string;
  setCookies: string[];
  body: string;
}

/** Cookies per origin, sent back to the origin that set them; redirects followed one hop at a time. */
class CookieBrowser {
  private readonly jars = new Map<string, Map<string, string>>();

  async request(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Hop> {
    const origin = new URL(url).origin;
    const jar = this.jars.get(origin) ?? new Map<string, string>();
    this.jars.set(origin, jar);
    const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(url, {
      method: init.method ?? 'GET',
      redirect: 'manual',
      headers: { ...(cookie ? { cookie } : {}), ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...init.headers },
      ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
    });
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0/i.test(line) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    const location = response.headers.get('location');
    return { status: response.status, ...(location ? { location: new URL(location, url).href } : {}), setCookies, body: await response.text() };
  }

  cookie(origin: string, name: string): string | undefined {
    return this.jars.get(origin)?.get(name);
  }

  forget(origin: string, name: string): void {
    this.jars.get(origin)?.delete(name);
  }
}

describe('browser sign-in through the identity provider (authorization code with PKCE)', () => {
  let idp: TestIdp;
  let api: ReturnType<typeof buildApiServer>;
  let base = '';
  let scratch = '';
  const logs: string[] = [];
  const client = new Client({ connection: Connection.lazy({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' }), namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });

  const envFor = (overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv =>
    oidcLoginEnv(idp, { publicUrl: base, clientId: CLIENT_ID, secretFile: path.join(scratch, 'client-secret'), providerName: 'Test IdP' }, overrides);

  /** Starts a sign-in at the API and walks the provider's form as `login`; the last hop is the API's callback answer. */
  async function signIn(browser: CookieBrowser, login: string, next?: string): Promise<{ start: Hop; callback: Hop; callbackUrl: string }> {
    const start = await browser.request(`${base}/ui/session/oidc${next === undefined ? '' : `?next=${encodeURIComponent(next)}`}`);
    assert.equal(start.status, 302);
    let hop = await browser.request(start.location ?? '');
    let url = start.location ?? '';
    for (let step = 0; step < 10; step += 1) {
      if (hop.status >= 300 && hop.status < 400 && hop.location) {
        if (hop.location.startsWith(`${base}/ui/session/oidc/callback`)) return { start, callback: await browser.request(hop.location), callbackUrl: hop.location };
        url = hop.location;
        hop = await browser.request(url);
        continue;
      }
      // The provider's sign-in form: any password, the login name picks the account.
      assert.match(hop.body, /name="login"/, `expected the provider's sign-in form at ${url}`);
      hop = await browser.request(url, { method: 'POST', form: { prompt: 'login', login, password: 'any' } });
    }
    throw new Error('the sign-in did not come back to the API');
  }

  const whoAmI = async (browser: CookieBrowser): Promise<{ status: number; body: unknown }> => {
    const answer = await browser.request(`${base}/ui/session`, { headers: { accept: 'application/json' } });
    return { status: answer.status, body: answer.body ? (JSON.parse(answer.body) as unknown) : undefined };
  };

  before(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'qubinode-oidc-login-'));
    writeFileSync(path.join(scratch, 'client-secret'), `${CLIENT_SECRET}\n`, { mode: 0o600 });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    idp = await startTestIdp({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: `${base}/ui/session/oidc/callback` });
    idp.accounts.set('alice', { roles: ['operator'] });
    idp.accounts.set('carol', { roles: ['viewer'] });
    const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => { logs.push(chunk.toString('utf8')); done(); } });
    // Many sign-ins from one address follow: the per-address limit is checked on its own below.
    api = buildApiServer({ config: loadConfig(envFor()), logger: createLogger('debug', 'oidc-login-test', { sink, format: 'json' }), client, registry: new ActionRegistry(), token: BOOTSTRAP, signInAttemptsPerMinute: 1000 });
    await api.listen({ host: '127.0.0.1', port });
  });
  after(async () => {
    await api?.close();
    await idp?.close();
    await client.connection.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('offers the provider on the sign-in page, by the name configured for it', async () => {
    const answer = await fetch(`${base}/ui/session/methods`);
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), { token: true, sso: { name: 'Test IdP', start: '/ui/session/oidc' } });
  });

  it('sends the browser to the provider with PKCE (S256), a state bound to a Lax cookie and a nonce', async () => {
    const browser = new CookieBrowser();
    const start = await browser.request(`${base}/ui/session/oidc`);
    assert.equal(start.status, 302);
    const to = new URL(start.location ?? '');
    assert.equal(`${to.origin}${to.pathname}`, `${idp.issuer}/auth`);
    assert.equal(to.searchParams.get('client_id'), CLIENT_ID);
    assert.equal(to.searchParams.get('redirect_uri'), `${base}/ui/session/oidc/callback`);
    assert.equal(to.searchParams.get('code_challenge_method'), 'S256');
    assert.match(to.searchParams.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.match(to.searchParams.get('nonce') ?? '', /^[A-Za-z0-9_-]{43}$/);
    const state = to.searchParams.get('state') ?? '';
    assert.match(state, /^[A-Za-z0-9_-]{43}$/);
    const cookie = start.setCookies.find((line) => line.startsWith('qubinode_oidc_state='));
    assert.ok(cookie, 'a state cookie is set');
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Lax/);
    assert.match(cookie, /Path=\/ui\/session\/oidc/);
    assert.equal(browser.cookie(base, 'qubinode_oidc_state'), state);
  });

  it('signs alice in: a session cookie, her roles from the ID token, and back to the page she asked for', async () => {
    const browser = new CookieBrowser();
    const { callback } = await signIn(browser, 'alice', '/ui/runs/dag-1');
    assert.equal(callback.status, 302);
    assert.equal(callback.location, `${base}/ui/runs/dag-1`);
    const session = callback.setCookies.find((line) => line.startsWith('qubinode_session='));
    assert.ok(session);
    assert.match(session, /HttpOnly/);
    assert.match(session, /SameSite=Strict/);
    assert.equal(browser.cookie(base, 'qubinode_oidc_state'), undefined, 'the state cookie is spent');
    const me = await whoAmI(browser);
    assert.equal(me.status, 200);
    assert.deepEqual((me.body as { user: string; roles: string[] }).user, 'alice');
    assert.deepEqual((me.body as { roles: string[] }).roles, ['operator']);
    assert.match((me.body as { csrf: string }).csrf, /^[A-Za-z0-9_-]{43}$/);
  });

  it('sends a browser back only to a page of the web UI, whatever next it asked for', async () => {
    for (const next of ['//evil.example/ui', 'https://evil.example/', '/ui/../api/users', '/ui/%2e%2e/api', '/ui/%2F%2Fevil.example', '/ui//evil.example', '/api/dags', '/ui/\\evil']) {
      const { callback } = await signIn(new CookieBrowser(), 'carol', next);
      assert.equal(callback.location, `${base}/ui/`, next);
    }
  });

  it('refuses a callback that did not start in this browser (login CSRF), and a state used twice', async () => {
    const attacker = new CookieBrowser();
    const { callbackUrl } = await signIn(attacker, 'carol').catch(() => ({ callbackUrl: '' }));
    assert.ok(callbackUrl);
    // The victim's browser opens the attacker's callback URL: it has no state cookie for it.
    const victim = new CookieBrowser();
    const forced = await victim.request(callbackUrl);
    assert.equal(forced.status, 302);
    assert.equal(forced.location, `${base}/ui/sign-in?sso=expired`);
    assert.equal(victim.cookie(base, 'qubinode_session'), undefined);

    // A browser that replays its own callback: the state was spent by the first use.
    const browser = new CookieBrowser();
    const first = await signIn(browser, 'carol');
    assert.equal(first.callback.location, `${base}/ui/`);
    const start = await browser.request(`${base}/ui/session/oidc`);
    const state = new URL(start.location ?? '').searchParams.get('state') ?? '';
    const replay = new URL(first.callbackUrl);
    replay.searchParams.set('state', state);
    const replayed = await browser.request(replay.href);
    assert.equal(replayed.location, `${base}/ui/sign-in?sso=refused`, 'a code for another state is refused by the provider (PKCE verifier of this state)');
  });

  it('answers a provider error, a missing code and a malformed state with the sign-in page, echoing nothing', async () => {
    const browser = new CookieBrowser();
    const start = await browser.request(`${base}/ui/session/oidc`);
    const state = new URL(start.location ?? '').searchParams.get('state') ?? '';
    const denied = await browser.request(`${base}/ui/session/oidc/callback?state=${state}&error=access_denied&error_description=%3Cscript%3E`);
    assert.equal(denied.location, `${base}/ui/sign-in?sso=denied`);
    assert.doesNotMatch(denied.body, /script/);
    const bad = await new CookieBrowser().request(`${base}/ui/session/oidc/callback?state=${'x'.repeat(5000)}&code=c`);
    assert.equal(bad.location, `${base}/ui/sign-in?sso=expired`);
    const nested = await new CookieBrowser().request(`${base}/ui/session/oidc/callback?state[a][b]=1&code[x]=2`);
    assert.equal(nested.location, `${base}/ui/sign-in?sso=expired`);
  });

  it('signs a session out within the recheck time once the provider disables the user, and follows role changes', async () => {
    idp.accounts.set('dave', { roles: ['viewer'] });
    const browser = new CookieBrowser();
    await signIn(browser, 'dave');
    assert.equal((await whoAmI(browser)).status, 200);
    idp.accounts.set('dave', { roles: ['approver'] });
    await until(async () => ((await whoAmI(browser)).body as { roles?: string[] }).roles?.[0] === 'approver', 10_000, 'the new role');
    idp.accounts.set('dave', { roles: ['approver'], disabled: true });
    await until(async () => (await whoAmI(browser)).status === 401, 10_000, 'the session to end');
    assert.equal(browser.cookie(base, 'qubinode_session'), undefined, 'the session cookie is cleared');
  });

  it('keeps a session while the provider is unreachable and its ID token is valid', async () => {
    // A provider of its own, so stopping it leaves the others' sign-ins alone.
    const port = await freePort();
    const ownBase = `http://127.0.0.1:${port}`;
    const own = await startTestIdp({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: `${ownBase}/ui/session/oidc/callback` });
    own.accounts.set('erin', { roles: ['viewer'] });
    const ownApi = buildApiServer({ config: loadConfig(oidcLoginEnv(own, { publicUrl: ownBase, clientId: CLIENT_ID, secretFile: path.join(scratch, 'client-secret'), providerName: 'Own IdP' })), logger: createLogger('error', 'oidc-login-test'), client, registry: new ActionRegistry(), token: BOOTSTRAP, signInAttemptsPerMinute: 1000 });
    await ownApi.listen({ host: '127.0.0.1', port });
    try {
      const browser = new CookieBrowser();
      const start = await browser.request(`${ownBase}/ui/session/oidc`);
      let hop = await browser.request(start.location ?? '');
      let url = start.location ?? '';
      while (!(hop.location ?? '').startsWith(`${ownBase}/`)) {
        if (hop.location) {
          url = hop.location;
          hop = await browser.request(url);
        } else hop = await browser.request(url, { method: 'POST', form: { prompt: 'login', login: 'erin', password: 'any' } });
      }
      await browser.request(hop.location ?? '');
      const me = () => browser.request(`${ownBase}/ui/session`, { headers: { accept: 'application/json' } });
      assert.equal((await me()).status, 200);
      await own.close();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const later = await me();
      assert.equal(later.status, 200, 'the recheck could not reach the provider; the ID token still holds');
      assert.equal((JSON.parse(later.body) as { user: string }).user, 'erin');
    } finally {
      await ownApi.close();
    }
  });

  it('asks an unreachable provider once per recheck time, not on every request of the session', async () => {
    let refreshes = 0;
    let now = 1_000_000;
    const unreachable = { providerName: 'down', refresh: async () => { refreshes += 1; throw new OidcProviderError('the identity provider\'s refresh could not be reached: TypeError'); } } as unknown as OidcProviderClient;
    const settings = loadConfig(envFor()).identity.oidc;
    assert.ok(settings?.login);
    const login = new OidcLogin({ ...settings, login: { ...settings.login, recheckMs: 30_000 } }, oidcKeys(settings), unreachable, () => now);
    const grant = { identity: { user: 'erin', roles: ['viewer' as const] }, expiresAt: now + 600_000, checkedAt: now - 31_000, refreshToken: 'rt' };
    for (let request = 0; request < 5; request += 1) assert.equal((await login.sessionCaller(grant, '127.0.0.1')).user, 'erin');
    assert.equal(refreshes, 1, 'one try, then the recheck time passes first');
    now += 30_000;
    await login.sessionCaller(grant, '127.0.0.1');
    assert.equal(refreshes, 2);
    now = grant.expiresAt;
    await assert.rejects(login.sessionCaller(grant, '127.0.0.1'), AuthenticationError, 'once the ID token has expired, an unreachable provider ends the session');
  });

  it('writes neither the client secret nor any token of the provider to the log', async () => {
    const browser = new CookieBrowser();
    await signIn(browser, 'alice');
    await whoAmI(browser);
    const text = logs.join('');
    assert.ok(text.length > 0, 'the API logged');
    assert.ok(!text.includes(CLIENT_SECRET), 'no client secret');
    assert.ok(!/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./.test(text), 'no JWT');
    assert.ok(!/[?&]code=[^&\s"]{8,}/.test(text), 'no authorization code in a logged URL');
  });

  it('refuses at start-up a client id without QUBINODE_PUBLIC_URL, an http issuer off loopback, and an unreadable secret file', () => {
    assert.throws(() => loadConfig(envFor({ QUBINODE_PUBLIC_URL: undefined })), (error: Error) => error instanceof ConfigError && /QUBINODE_OIDC_CLIENT_ID needs QUBINODE_PUBLIC_URL/.test(error.message));
    assert.throws(() => loadConfig(envFor({ QUBINODE_OIDC_ISSUER: 'http://idp.example.test' })), (error: Error) => error instanceof ConfigError && /https issuer/.test(error.message));
    assert.throws(() => loadConfig(envFor({ QUBINODE_OIDC_SCOPES: 'profile email' })), (error: Error) => error instanceof ConfigError && /QUBINODE_OIDC_SCOPES/.test(error.message));
    assert.throws(
      () => buildApiServer({ config: loadConfig(envFor({ QUBINODE_OIDC_CLIENT_SECRET_FILE: path.join(scratch, 'missing') })), logger: createLogger('error', 'oidc-login-test'), client, registry: new ActionRegistry(), token: BOOTSTRAP }),
      (error: Error) => error instanceof ConfigError && /QUBINODE_OIDC_CLIENT_SECRET_FILE: cannot read/.test(error.message),
    );
  });

  it('counts starts and callbacks against the per-address sign-in limit', async () => {
    const limited = buildApiServer({ config: loadConfig(envFor()), logger: createLogger('error', 'oidc-login-test'), client, registry: new ActionRegistry(), token: BOOTSTRAP, signInAttemptsPerMinute: 2 });
    try {
      assert.equal((await limited.inject({ method: 'GET', url: '/ui/session/oidc' })).statusCode, 302);
      assert.equal((await limited.inject({ method: 'GET', url: '/ui/session/oidc/callback?state=x&code=y' })).statusCode, 302);
      const third = await limited.inject({ method: 'GET', url: '/ui/session/oidc' });
      assert.equal(third.statusCode, 429);
      assert.ok(Number(third.headers['retry-after']) >= 1);
    } finally {
      await limited.close();
    }
  });

  it('offers no provider and answers its routes 404 when no client id is configured', async () => {
    const plain = buildApiServer({ config: loadConfig(envFor({ QUBINODE_OIDC_CLIENT_ID: undefined, QUBINODE_OIDC_CLIENT_SECRET_FILE: undefined })), logger: createLogger('error', 'oidc-login-test'), client, registry: new ActionRegistry(), token: BOOTSTRAP });
    try {
      assert.deepEqual((await plain.inject({ method: 'GET', url: '/ui/session/methods' })).json(), { token: true, sso: null });
      for (const url of ['/ui/session/oidc', '/ui/session/oidc/callback?state=x&code=y']) {
        const answer = await plain.inject({ method: 'GET', url });
        assert.equal(answer.statusCode, 404, url);
        assert.equal(answer.headers.location, undefined, 'no redirect to a provider');
      }
    } finally {
      await plain.close();
    }
  });
});
