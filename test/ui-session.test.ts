import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildApiServer, type ApiDependencies } from '../api/server';
import { UI_CSP } from '../api/ui-assets';
import { BrowserSessions } from '../api/ui-session';
import type { AuditRecordInput } from '../client/audit';
import { addUser, issueToken, removeUser, revokeToken, type IdentityStore } from '../client/identity';
import { PROJECT_ROOT } from '../config/config';
import { createLogger } from '../config/logger';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { startTestEngine, type TestEngine } from './support/engine';
import { until } from './support/waiting';

const BOOTSTRAP = 'ui-session-test-bootstrap-0123456789';
const FIXTURE_ENTRY = path.join(PROJECT_ROOT, 'test', 'fixtures', 'ui-page', 'main.tsx');

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Sends the request exactly as written (path, Cookie and Origin headers), as fetch() would not. */
function send(base: string, method: string, rawPath: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: hostname, port, method, path: rawPath, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** The `name=value` part of the session cookie set by an answer. */
function sessionPair(answer: Answer): string {
  const cookie = (answer.headers['set-cookie'] ?? []).find((line) => line.startsWith('qubinode_session='));
  assert.ok(cookie, `no session cookie in ${JSON.stringify(answer.headers['set-cookie'])}`);
  return cookie.split(';')[0] as string;
}

describe('browser sessions and the web page at /ui', () => {
  let engine: TestEngine;
  let deps: ApiDependencies;
  let app: ReturnType<typeof buildApiServer>;
  let base: string;
  let origin: string;
  let store: IdentityStore;
  const logLines: string[] = [];
  // What the server hands the audit trail; the trail's own storage in Temporal is tested in test/audit.test.ts.
  const audited: AuditRecordInput[] = [];

  interface Session {
    cookie: string;
    csrf: string;
  }

  async function signIn(token: string): Promise<Session & { answer: Answer }> {
    const answer = await send(base, 'POST', '/ui/session', { origin }, JSON.stringify({ token }));
    assert.equal(answer.status, 200, answer.body);
    return { cookie: sessionPair(answer), csrf: (JSON.parse(answer.body) as { csrf: string }).csrf, answer };
  }

  async function newUser(role: 'viewer' | 'operator', lifetime = '1h'): Promise<{ name: string; id: string; token: string }> {
    const name = `${role}-${randomUUID().slice(0, 8)}`;
    await addUser(store, name, [role]);
    const issued = await issueToken(store, { user: name, lifetime });
    return { name, id: issued.record.id, token: issued.token };
  }

  before(async () => {
    engine = await startTestEngine();
    const config = {
      ...engine.config,
      taskQueue: engine.taskQueue,
      dagDirectories: [{ repo: 'cli', dir: path.join(PROJECT_ROOT, 'test', 'fixtures', 'cli-repo') }],
      identity: { workflowId: `identity/test-${randomUUID()}` },
    };
    // Info level, so the request lines a production server writes are in the captured output too.
    const logger = createLogger('info', 'ui-session-test', { format: 'json', sink: { write: (line: string) => logLines.push(line) } });
    deps = { config, logger, client: engine.client, registry: new ActionRegistry(), token: BOOTSTRAP, uiEntry: FIXTURE_ENTRY, recordAudit: async (_client, entry) => void audited.push(entry) };
    app = buildApiServer(deps);
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    origin = base;
    store = { client: engine.client, workflowId: config.identity.workflowId, taskQueue: engine.taskQueue };
  });
  after(async () => {
    await app.close();
    await engine.close();
  });

  it('signs a browser in with a good token: an HttpOnly SameSite=Strict cookie that does not hold the token, the CSRF token and the Temporal UI link', async () => {
    const operator = await newUser('operator');
    const { answer, cookie, csrf } = await signIn(operator.token);
    const setCookie = (answer.headers['set-cookie'] ?? []).join('\n');
    assert.match(setCookie, /^qubinode_session=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=43200$/);
    assert.doesNotMatch(setCookie, /Secure/, 'plain http gets no Secure flag');
    assert.ok(!setCookie.includes(operator.token) && !setCookie.includes(operator.token.slice(4, 20)), 'the cookie holds the token');
    const body = JSON.parse(answer.body) as { user: string; roles: string[]; csrf: string; temporal: { uiUrl: string; namespace: string } };
    assert.equal(body.user, operator.name);
    assert.deepEqual(body.roles, ['operator']);
    assert.match(body.csrf, /^[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(body.temporal, { uiUrl: deps.config.temporal.uiUrl, namespace: deps.config.temporal.namespace });
    // GET /ui/session answers the same from the cookie alone, or from a bearer header (no CSRF token then).
    const again = await send(base, 'GET', '/ui/session', { cookie });
    assert.equal(again.status, 200);
    assert.deepEqual(JSON.parse(again.body), { user: operator.name, roles: ['operator'], csrf, temporal: body.temporal });
    const bearer = await send(base, 'GET', '/ui/session', { authorization: `Bearer ${operator.token}` });
    assert.equal(bearer.status, 200);
    assert.equal((JSON.parse(bearer.body) as { csrf: unknown }).csrf, null);
    assert.equal((await send(base, 'GET', '/ui/session')).status, 401);
  });

  it('refuses sign-in with a bad token (401), without or from a foreign Origin (403), and bodies that are oversized, deeply nested or not a token (4xx)', async () => {
    const bad = await send(base, 'POST', '/ui/session', { origin }, JSON.stringify({ token: 'qnt_not-a-real-token-at-all' }));
    assert.equal(bad.status, 401);
    assert.equal(bad.headers['set-cookie'], undefined);
    const operator = await newUser('operator');
    const good = JSON.stringify({ token: operator.token });
    const foreign: Record<string, string>[] = [{}, { origin: 'http://evil.example' }, { origin: 'null' }, { origin: `${base}.evil.example` }, { origin: base.replace('http:', 'https:') }];
    for (const headers of foreign) {
      const answer = await send(base, 'POST', '/ui/session', headers, good);
      assert.equal(answer.status, 403, `Origin ${JSON.stringify(headers)} answered ${answer.status}`);
      assert.equal(answer.headers['set-cookie'], undefined);
    }
    const hostile = [
      JSON.stringify({ token: 'x'.repeat(20_000) }),
      JSON.stringify({ token: `qnt_${'y'.repeat(9000)}` }),
      `${'['.repeat(5000)}${']'.repeat(5000)}`,
      JSON.stringify({ token: operator.token, nested: JSON.parse(`${'{"a":'.repeat(500)}1${'}'.repeat(500)}`) as unknown }),
      JSON.stringify({ token: { $ne: '' } }),
      JSON.stringify({ token: '' }),
      JSON.stringify([operator.token]),
      `{"token":${JSON.stringify(operator.token)},"__proto__":{"admin":true}}`,
      'not json',
    ];
    for (const body of hostile) {
      const answer = await send(base, 'POST', '/ui/session', { origin }, body);
      assert.ok(answer.status >= 400 && answer.status < 500, `${body.slice(0, 60)} answered ${answer.status}`);
      assert.equal(answer.headers['set-cookie'], undefined);
    }
  });

  it('reads the API with the session cookie in place of a bearer header', async () => {
    const viewer = await newUser('viewer');
    const { cookie } = await signIn(viewer.token);
    const dags = await send(base, 'GET', '/api/dags', { cookie: `other=1; ${cookie}; more=2` });
    assert.equal(dags.status, 200);
    assert.match(dags.body, /cli\/ok/);
    // Roles still decide: a viewer's cookie reads, it does not administer.
    assert.equal((await send(base, 'GET', '/api/users', { cookie })).status, 403);
  });

  it('refuses a write by cookie without the CSRF token, with a wrong one, or from a foreign or missing Origin, and starts the run with both', async () => {
    const operator = await newUser('operator');
    const { cookie, csrf } = await signIn(operator.token);
    const other = await signIn(operator.token);
    const runKey = `ui-csrf-${randomUUID().slice(0, 8)}`;
    const body = JSON.stringify({ dag: 'cli/ok', runKey });
    const refused: Record<string, string>[] = [
      { cookie, origin },
      { cookie, origin, 'x-csrf-token': '' },
      { cookie, origin, 'x-csrf-token': `${csrf}x` },
      { cookie, origin, 'x-csrf-token': other.csrf },
      { cookie, origin, 'x-csrf-token': randomBytes(32).toString('base64url') },
      { cookie, 'x-csrf-token': csrf },
      { cookie, 'x-csrf-token': csrf, origin: 'http://evil.example' },
      { cookie, 'x-csrf-token': csrf, origin: 'null' },
      { cookie, 'x-csrf-token': csrf, origin: `${origin}/` },
    ];
    for (const headers of refused) {
      const answer = await send(base, 'POST', '/api/runs', headers, body);
      assert.equal(answer.status, 403, `${JSON.stringify({ ...headers, cookie: undefined })} answered ${answer.status}: ${answer.body}`);
      assert.match((JSON.parse(answer.body) as { error: string }).error, /forbidden/);
    }
    const started = await send(base, 'POST', '/api/runs', { cookie, origin, 'x-csrf-token': csrf }, body);
    assert.equal(started.status, 201, started.body);
    assert.equal((JSON.parse(started.body) as { runId: string }).runId, `dag/cli/ok/${runKey}`);
    // A bearer header needs no CSRF token: browsers never add one on their own.
    const bearer = await send(base, 'POST', '/api/runs', { authorization: `Bearer ${operator.token}` }, JSON.stringify({ dag: 'cli/ok', runKey: `${runKey}-b` }));
    assert.equal(bearer.status, 201, bearer.body);
  });

  it('stops a session within seconds once its token is revoked or its user removed', async () => {
    const revoked = await newUser('viewer');
    const removed = await newUser('viewer');
    const first = await signIn(revoked.token);
    const second = await signIn(removed.token);
    assert.equal((await send(base, 'GET', '/api/dags', { cookie: first.cookie })).status, 200);
    assert.equal((await send(base, 'GET', '/api/dags', { cookie: second.cookie })).status, 200);
    await revokeToken(store, revoked.id);
    await removeUser(store, removed.name);
    for (const { cookie } of [first, second]) {
      await until(async () => (await send(base, 'GET', '/api/dags', { cookie })).status === 401, 15_000, 'the session to stop');
      const after = await send(base, 'GET', '/api/dags', { cookie });
      assert.equal(after.status, 401);
      assert.match((after.headers['set-cookie'] ?? []).join(''), /qubinode_session=;.*Max-Age=0/);
    }
  });

  it('makes the cookie useless after sign-out, which itself needs the CSRF token and Origin', async () => {
    const viewer = await newUser('viewer');
    const { cookie, csrf } = await signIn(viewer.token);
    assert.equal((await send(base, 'DELETE', '/ui/session', { cookie, origin })).status, 403);
    assert.equal((await send(base, 'DELETE', '/ui/session', { cookie, 'x-csrf-token': csrf, origin: 'http://evil.example' })).status, 403);
    assert.equal((await send(base, 'GET', '/api/dags', { cookie })).status, 200, 'a refused sign-out left the session alone');
    const out = await send(base, 'DELETE', '/ui/session', { cookie, 'x-csrf-token': csrf, origin });
    assert.equal(out.status, 204);
    assert.match((out.headers['set-cookie'] ?? []).join(''), /^qubinode_session=; HttpOnly; SameSite=Strict; Path=\/; Max-Age=0$/);
    assert.equal((await send(base, 'GET', '/api/dags', { cookie })).status, 401);
    assert.equal((await send(base, 'GET', '/ui/session', { cookie })).status, 401);
    // Both ends of the session are in the audit trail, under the user who signed in.
    assert.deepEqual(
      audited.filter((entry) => entry.actor === viewer.name).map((entry) => [entry.action, entry.via, entry.outcome]),
      [
        ['session.start', 'token', 'ok'],
        ['session.end', 'token', 'ok'],
      ],
    );
  });

  it('refuses a forged or random cookie with 401, and lets a bearer header decide when both arrive', async () => {
    const forged = [
      `qubinode_session=${randomBytes(32).toString('base64url')}`,
      'qubinode_session=',
      'qubinode_session=../../etc/passwd',
      `qubinode_session=${'A'.repeat(5000)}`,
      `qubinode_session=${BOOTSTRAP}`,
    ];
    for (const cookie of forged) {
      const answer = await send(base, 'GET', '/api/dags', { cookie });
      assert.equal(answer.status, 401, `${cookie.slice(0, 60)} answered ${answer.status}`);
      assert.doesNotMatch(answer.body, /cli\/ok/);
    }
    const viewer = await newUser('viewer');
    const { cookie } = await signIn(viewer.token);
    assert.equal((await send(base, 'GET', '/api/dags', { cookie, authorization: 'Bearer wrong-token-wrong-token' })).status, 401);
    assert.equal((await send(base, 'GET', '/api/users', { cookie, authorization: `Bearer ${BOOTSTRAP}` })).status, 200);
  });

  it('serves the shell at /ui and every page path, and the bundle from memory, all with the CSP, nosniff and no-referrer headers', async () => {
    for (const page of ['/ui', '/ui/', '/ui/sign-in', '/ui/runs/dag%2Fcli%2Fok%2Fkey', '/ui/dags/cli%2Fok', '/ui/audit?x=1']) {
      const answer = await send(base, 'GET', page);
      assert.equal(answer.status, 200, page);
      assert.match(answer.headers['content-type'] ?? '', /^text\/html/);
      assert.match(answer.body, /^<!doctype html>.*<div id="app"><\/div><script src="\/ui\/assets\/app\.js" defer><\/script>/);
      assert.doesNotMatch(answer.body, /<script>|<style|style=/);
      assert.equal(answer.headers['content-security-policy'], UI_CSP);
      assert.equal(answer.headers['x-content-type-options'], 'nosniff');
      assert.equal(answer.headers['referrer-policy'], 'no-referrer');
      assert.equal(answer.headers['cache-control'], 'no-store');
    }
    const js = await send(base, 'GET', '/ui/assets/app.js');
    assert.equal(js.status, 200);
    assert.match(js.headers['content-type'] ?? '', /^text\/javascript/);
    assert.match(js.body, /ui-page-fixture-marker/);
    assert.equal(js.headers['x-content-type-options'], 'nosniff');
    const css = await send(base, 'GET', '/ui/assets/app.css');
    assert.equal(css.status, 200);
    assert.match(css.headers['content-type'] ?? '', /^text\/css/);
    assert.match(css.body, /\.ui-page-fixture-marker\{/);
    const session = await send(base, 'GET', '/ui/session');
    assert.equal(session.headers['content-security-policy'], UI_CSP);
  });

  it('never serves a file for hostile asset paths', async () => {
    const hostile = [
      '/ui/assets/..%2fpackage.json',
      '/ui/assets/..%2F..%2Fpackage.json',
      '/ui/assets/%2e%2e/x',
      '/ui/assets/%2e%2e/%2e%2e/package.json',
      '/ui/assets/../../package.json',
      '/ui/assets/app.js%00',
      '/ui/assets/app.js%00.png',
      '/ui/assets/App.js',
      '/ui/assets/app.js/',
      '/ui/assets/main.tsx',
      '/ui/assets/styles.css',
      '/ui/assets/',
      '/ui/assets',
      '/ui/%61ssets/package.json',
      '/ui/assets/%252e%252e/package.json',
      `/ui/assets/${'a'.repeat(9000)}`,
      `/ui/${'../'.repeat(3000)}package.json`,
      '/ui/..%2f..%2fpackage.json',
      '/ui/assets/%ff%fe',
    ];
    for (const rawPath of hostile) {
      const answer = await send(base, 'GET', rawPath);
      assert.ok([200, 400, 404, 414, 431].includes(answer.status), `${rawPath.slice(0, 60)} answered ${answer.status}`);
      assert.doesNotMatch(answer.body, /"name": "qubinode-navigator"|"dependencies"|ui-page-fixture-marker|import '\.\/styles\.css'/, `${rawPath.slice(0, 60)} served a file`);
      // Whatever is not an asset by name gets the shell at most.
      if (answer.status === 200) assert.match(answer.body, /^<!doctype html>/, rawPath.slice(0, 60));
      if (rawPath.startsWith('/ui/assets/')) assert.notEqual(answer.status, 200, `${rawPath.slice(0, 60)} answered 200`);
    }
  });

  it('answers sign-in attempts over the limit of a source address with 429 and Retry-After, before any token is checked', async () => {
    const limited = buildApiServer({ ...deps, signInAttemptsPerMinute: 3 });
    await limited.listen({ host: '127.0.0.1', port: 0 });
    try {
      const limitedBase = `http://127.0.0.1:${(limited.server.address() as AddressInfo).port}`;
      const attempt = (token: string): Promise<Answer> => send(limitedBase, 'POST', '/ui/session', { origin: limitedBase }, JSON.stringify({ token }));
      for (let index = 0; index < 3; index += 1) assert.equal((await attempt(`guess-${index}-${'x'.repeat(20)}`)).status, 401);
      const over = await attempt(BOOTSTRAP);
      assert.equal(over.status, 429, 'even the right token waits once the address is over its limit');
      assert.ok(Number(over.headers['retry-after']) >= 1, JSON.stringify(over.headers));
      assert.equal(over.headers['set-cookie'], undefined);
      // The limit is on signing in only: the API itself still answers this address.
      assert.equal((await send(limitedBase, 'GET', '/api/dags', { authorization: `Bearer ${BOOTSTRAP}` })).status, 200);
    } finally {
      await limited.close();
    }
  });

  it('answers 500 on /ui when the page cannot be built, the reason in the server log only', async () => {
    const lines: string[] = [];
    const broken = buildApiServer({ ...deps, uiEntry: path.join(PROJECT_ROOT, 'test', 'fixtures', 'ui-page', 'missing-entry.tsx'), logger: createLogger('error', 'ui-broken', { format: 'json', sink: { write: (line: string) => lines.push(line) } }) });
    await broken.listen({ host: '127.0.0.1', port: 0 });
    try {
      const brokenBase = `http://127.0.0.1:${(broken.server.address() as AddressInfo).port}`;
      for (const page of ['/ui', '/ui/runs', '/ui/assets/app.js']) {
        const answer = await send(brokenBase, 'GET', page);
        assert.equal(answer.status, 500, page);
        assert.doesNotMatch(answer.body, /missing-entry/);
      }
      assert.match(lines.join(''), /missing-entry\.tsx/);
    } finally {
      await broken.close();
    }
  });

  it('never writes a token, a session id or a CSRF token to the server log', async () => {
    const canaryUser = await newUser('operator');
    const { cookie, csrf } = await signIn(canaryUser.token);
    const id = cookie.split('=')[1] as string;
    const unknown = `qnt_CANARY${randomBytes(12).toString('hex')}`;
    await send(base, 'POST', '/ui/session', { origin }, JSON.stringify({ token: unknown }));
    await send(base, 'POST', '/ui/session', { origin: 'http://evil.example' }, JSON.stringify({ token: canaryUser.token }));
    await send(base, 'GET', '/api/dags', { cookie });
    await send(base, 'POST', '/api/runs', { cookie, origin, 'x-csrf-token': `${csrf}-wrong` }, JSON.stringify({ dag: 'cli/ok' }));
    await send(base, 'GET', '/api/dags', { authorization: `Bearer ${unknown}` });
    await send(base, 'DELETE', '/ui/session', { cookie, origin, 'x-csrf-token': csrf });
    await send(base, 'GET', '/api/dags', { cookie });
    const text = logLines.join('');
    assert.match(text, /sign-in refused/, 'the log captured the requests');
    for (const secret of [canaryUser.token, unknown, id, csrf]) assert.ok(!text.includes(secret), `the log holds ${secret.slice(0, 8)}...`);
  });
});

describe('browser session lifetimes', () => {
  const HOUR = 60 * 60 * 1000;

  it('ends a session after 2 h without a request and after 12 h in any case', () => {
    let now = 0;
    const sessions = new BrowserSessions(() => now);
    const idle = sessions.create('qnt_a', 'alice');
    const busy = sessions.create('qnt_b', 'bob');
    for (now = HOUR; now < 12 * HOUR; now += HOUR) assert.ok(sessions.touch(busy.id), `a session used every hour ended at ${now / HOUR} h`);
    assert.equal(sessions.touch(idle.id), undefined, 'a session idle for hours lived on');
    now = 12 * HOUR;
    assert.equal(sessions.touch(busy.id), undefined, 'a session lived past 12 h');
  });

  it('keeps at most 20 sessions per user, dropping the oldest, and ignores malformed ids', () => {
    const sessions = new BrowserSessions();
    const other = sessions.create('qnt_other', 'bob');
    const alice = Array.from({ length: 21 }, (_, index) => sessions.create(`qnt_${index}`, 'alice'));
    assert.equal(sessions.touch((alice[0] as { id: string }).id), undefined);
    for (const { id } of alice.slice(1)) assert.ok(sessions.touch(id));
    assert.ok(sessions.touch(other.id), "one user's sign-ins pushed out another user's session");
    for (const bad of ['', 'x', `${other.id}=`, randomBytes(32).toString('base64url'), '../'.repeat(20)]) assert.equal(sessions.touch(bad), undefined, bad);
  });
});
