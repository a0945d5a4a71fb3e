import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { buildApiServer, type ApiDependencies } from '../api/server';
import { MissingRoutePolicyError, ROUTE_POLICY } from '../api/route-policy';
import { addUser, issueToken } from '../client/identity';
import { listRuns } from '../client/runs';
import { PROJECT_ROOT } from '../config/config';
import { createLogger } from '../config/logger';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { apiRequest } from './support/api-request';
import { startTestEngine, type TestEngine } from './support/engine';
import { until } from './support/waiting';

const BOOTSTRAP = 'auth-test-bootstrap-token-0123456789';

interface RawAnswer {
  status: number;
  body: string;
}

/** Sends the path exactly as written: fetch() would normalise dot segments and some encodings first. */
function raw(base: string, method: string, rawPath: string, headers: Record<string, string> = {}, body?: string): Promise<RawAnswer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: hostname, port, method, path: rawPath, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {}) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

describe('API authorisation by matched route', () => {
  let engine: TestEngine;
  let deps: ApiDependencies;
  let app: ReturnType<typeof buildApiServer>;
  let base: string;
  const tokens: Record<string, string> = {};
  const call = (method: string, url: string, token: string | null, body?: unknown): Promise<Response> => apiRequest(base, method, url, token, body);

  before(async () => {
    engine = await startTestEngine();
    const config = {
      ...engine.config,
      taskQueue: engine.taskQueue,
      dagDirectories: [{ repo: 'cli', dir: path.join(PROJECT_ROOT, 'test', 'fixtures', 'cli-repo') }],
      identity: { workflowId: `identity/test-${randomUUID()}` },
    };
    deps = { config, logger: createLogger('error', 'api-auth-test'), client: engine.client, registry: new ActionRegistry(), token: BOOTSTRAP };
    app = buildApiServer(deps);
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const store = { client: engine.client, workflowId: config.identity.workflowId, taskQueue: engine.taskQueue };
    for (const role of ['viewer', 'operator', 'approver', 'admin'] as const) {
      await addUser(store, `${role}-user`, [role]);
      tokens[role] = (await issueToken(store, { user: `${role}-user`, lifetime: '1h' })).token;
    }
  });
  after(async () => {
    await app.close();
    await engine.close();
  });

  it('refuses every spelling of a protected read without a token: encoded, doubled slash, case, trailing dot or slash', async () => {
    const spellings = [
      '/api/dags',
      '/%61pi/dags',
      '/api/%64ags',
      '/%61%70%69/%64%61%67%73',
      '/%2561pi/dags',
      '//api/dags',
      '/api//dags',
      '///api/dags',
      '/API/dags',
      '/Api/Dags',
      '/api/DAGS',
      '/api/dags.',
      '/api/dags/',
      '/api/dags%2e',
      '/api/dags%2F',
      '/api/./dags',
      '/api/../api/dags',
      '/x/../api/dags',
      '/api/dags;x=1',
      '/api/dags?token=whatever',
      '/api/dags%00',
      '/api/dags%20',
      '/api/runs/..%2Fdags',
    ];
    for (const spelling of spellings) {
      const answer = await raw(base, 'GET', spelling);
      assert.ok([400, 401, 404].includes(answer.status), `${spelling} answered ${answer.status}: ${answer.body.slice(0, 200)}`);
      assert.doesNotMatch(answer.body, /cli\/ok|"tasks"/, `${spelling} leaked the catalog`);
    }
    for (const [method, spelling] of [['HEAD', '/%61pi/dags'], ['HEAD', '/api/dags'], ['OPTIONS', '/api/dags'], ['DELETE', '/api/dags']] as const) {
      const answer = await raw(base, method, spelling);
      assert.ok([401, 404].includes(answer.status), `${method} ${spelling} answered ${answer.status}`);
    }
    // The decoded spelling really is the same route: with a token it answers the catalog.
    const authorised = await raw(base, 'GET', '/%61pi/dags', { authorization: `Bearer ${BOOTSTRAP}` });
    assert.equal(authorised.status, 200);
    assert.match(authorised.body, /cli\/ok/);
  });

  it('starts no run through any spelling of POST /api/runs without a token', async () => {
    const runKey = `unauth-${randomUUID().slice(0, 8)}`;
    const body = JSON.stringify({ dag: 'cli/ok', runKey });
    for (const spelling of ['/api/runs', '/%61pi/runs', '/api/%72uns', '//api/runs', '/API/runs', '/api/runs/', '/api/runs.']) {
      const answer = await raw(base, 'POST', spelling, {}, body);
      assert.ok([401, 404].includes(answer.status), `${spelling} answered ${answer.status}`);
    }
    const runs = await listRuns(engine.client, { dag: 'cli/ok', limit: 500 });
    assert.ok(!runs.some((run) => run.runId.endsWith(runKey)), 'a run was started without a token');
  });

  it('answers unknown routes with a bare 404 that does not echo the path, token or not', async () => {
    for (const token of [null, BOOTSTRAP]) {
      const answer = await raw(base, 'GET', '/api/no-such-route-canary', token ? { authorization: `Bearer ${token}` } : {});
      assert.equal(answer.status, 404);
      assert.deepEqual(JSON.parse(answer.body), { error: 'not found' });
    }
  });

  it('lets each role do its duties and nothing more', async () => {
    const expectations: [string, string, unknown, Record<string, number>][] = [
      ['GET', '/api/dags', undefined, { viewer: 200, operator: 200, approver: 200, admin: 200 }],
      ['POST', '/api/runs', { dag: 'cli/nope' }, { viewer: 403, operator: 404, approver: 403, admin: 404 }],
      ['POST', '/api/aborts', { run: 'dag/cli/ok/none' }, { viewer: 403, operator: 404, approver: 403, admin: 404 }],
      ['POST', '/api/approvals', { run: 'dag/cli/ok/none', task: 'gate', decision: 'approve' }, { viewer: 403, operator: 403, approver: 404, admin: 404 }],
      ['GET', '/api/users', undefined, { viewer: 403, operator: 403, approver: 403, admin: 200 }],
      ['POST', '/api/tokens', { user: 'viewer-user' }, { viewer: 403, operator: 403, approver: 403, admin: 201 }],
      ['GET', '/api/audit', undefined, { viewer: 403, operator: 403, approver: 403, admin: 200 }],
    ];
    for (const [method, url, body, byRole] of expectations) {
      for (const [role, status] of Object.entries(byRole)) {
        const response = await call(method, url, tokens[role] as string, body);
        assert.equal(response.status, status, `${role} ${method} ${url}: ${await response.text()}`);
      }
    }
    const refused = await call('POST', '/api/runs', tokens.viewer as string, { dag: 'cli/ok' });
    assert.deepEqual(await refused.json(), { error: 'forbidden: this needs the operator role' });
  });

  it('records who started a run from the authenticated caller', async () => {
    const started = await call('POST', '/api/runs', tokens.operator as string, { dag: 'cli/ok', params: { word: 'who' } });
    assert.equal(started.status, 201);
    const { runId } = (await started.json()) as { runId: string };
    await engine.wait(runId);
    const mine = (await (await call('GET', '/api/runs?startedBy=operator-user&limit=500', tokens.viewer as string)).json()) as { runId: string }[];
    assert.ok(mine.some((run) => run.runId === runId));
    const others = (await (await call('GET', '/api/runs?startedBy=admin-user&limit=500', tokens.viewer as string)).json()) as { runId: string }[];
    assert.ok(!others.some((run) => run.runId === runId));
  });

  it('records starts and refusals in the audit trail with the caller, how they authenticated and their address, readable by admins', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const started = await call('POST', '/api/runs', tokens.operator as string, { dag: 'cli/ok', params: { word: 'audit' } });
    assert.equal(started.status, 201);
    const { runId } = (await started.json()) as { runId: string };
    assert.equal((await call('POST', '/api/runs', tokens.viewer as string, { dag: 'cli/ok' })).status, 403);
    type Entry = { actor: string; via: string; action: string; target: string; outcome: string; from?: string };
    let entries: Entry[] = [];
    await until(
      async () => {
        const answer = await call('GET', `/api/audit?since=${encodeURIComponent(since)}&action=run.start&limit=1000`, tokens.admin as string);
        entries = (await answer.json()) as Entry[];
        return entries.some((entry) => entry.target === runId) && entries.some((entry) => entry.actor === 'viewer-user');
      },
      20_000,
      'the start and the refusal to reach the audit trail',
    );
    const ok = entries.find((entry) => entry.target === runId);
    assert.deepEqual([ok?.actor, ok?.via, ok?.outcome, ok?.from], ['operator-user', 'token', 'ok', '127.0.0.1']);
    assert.equal(entries.find((entry) => entry.actor === 'viewer-user')?.outcome, 'refused');
    for (const bad of ['since=yesterday', 'limit=100000', 'limit=-1', `user=${'u'.repeat(500)}`]) {
      assert.equal((await call('GET', `/api/audit?${bad}`, tokens.admin as string)).status, 400, bad);
    }
    await engine.wait(runId);
  });

  it('tells strangers on /healthz only that it is up, and callers the details on /api/health', async () => {
    const health = await call('GET', '/healthz', null);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    assert.equal((await call('GET', '/api/health', null)).status, 401);
    const details = await call('GET', '/api/health', tokens.viewer as string);
    assert.deepEqual(await details.json(), { status: 'ok', temporal: 'ok', taskQueue: engine.taskQueue });
  });

  it('answers /healthz 503 unavailable, with no reason, when Temporal cannot be reached', async () => {
    // A connection to a port nothing listens on: the real failure, nothing mocked.
    const unreachable = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
    const down = buildApiServer({ ...deps, client: unreachable });
    try {
      const answer = await down.inject({ method: 'GET', url: '/healthz' });
      assert.equal(answer.statusCode, 503);
      assert.deepEqual(answer.json(), { status: 'unavailable' });
    } finally {
      await down.close();
    }
  });

  it('answers a failure with a request id only, logs the details under that id, and never adopts an inbound request id', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString('utf8')), done()) });
    // A namespace that does not exist makes Temporal itself fail the visibility query.
    const broken = new Client({ connection: engine.client.connection, namespace: `no-such-namespace-${randomUUID().slice(0, 8)}` });
    const failing = buildApiServer({ ...deps, client: broken, logger: pino({ level: 'error' }, sink) });
    try {
      const answer = await failing.inject({ method: 'GET', url: '/api/runs', headers: { authorization: `Bearer ${BOOTSTRAP}`, 'x-request-id': 'attacker-chosen-id' } });
      assert.equal(answer.statusCode, 500);
      const body = answer.json() as { error: string; requestId: string };
      assert.deepEqual(Object.keys(body).sort(), ['error', 'requestId']);
      assert.equal(body.error, 'internal error');
      assert.match(body.requestId, /^[0-9a-f-]{36}$/);
      assert.doesNotMatch(answer.body, /namespace|attacker/i);
      const logged = lines.map((line) => JSON.parse(line) as { reqId?: string; err?: { message?: string } }).find((line) => line.reqId === body.requestId);
      assert.ok(logged?.err?.message, 'the failure is logged with its request id');
    } finally {
      await failing.close();
    }
  });

  it('answers a malformed percent-encoding in a run id with 400, not a failure', async () => {
    for (const spelling of ['/api/runs/dag%2Fcli%2Fok%2F%E0%A4%A', '/api/rollouts/x%ZZ']) {
      const answer = await raw(base, 'GET', spelling, { authorization: `Bearer ${BOOTSTRAP}` });
      assert.equal(answer.status, 400, `${spelling}: ${answer.body}`);
      assert.doesNotMatch(answer.body, /URIError|stack/);
    }
  });

  it('refuses oversized, deeply nested and smuggled bodies from an authenticated caller with a 4xx', async () => {
    const admin = { authorization: `Bearer ${tokens.admin as string}` };
    const nested = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const cases: [string, string, string, number][] = [
      ['POST', '/api/approvals', `{"run":"x","task":"t","decision":"approve","comment":${nested}}`, 400],
      ['POST', '/api/users', JSON.stringify({ name: 'big', roles: Array(10_000).fill('admin') }), 400],
      ['POST', '/api/users', '{"name":"proto","roles":["viewer"],"__proto__":{"roles":["admin"]}}', 400],
      ['POST', '/api/users', '{"name":"ctor","roles":["viewer"],"constructor":{"prototype":{"roles":["admin"]}}}', 400],
      ['POST', '/api/tokens', JSON.stringify({ user: 'viewer-user', description: 'd'.repeat(10_000) }), 400],
      ['POST', '/api/runs', JSON.stringify({ dag: 'cli/ok', params: { word: 'x'.repeat(2 * 1024 * 1024) } }), 413],
    ];
    for (const [method, url, body, status] of cases) {
      const answer = await raw(base, method, url, admin, body);
      assert.equal(answer.status, status, `${url}: ${answer.body.slice(0, 200)}`);
    }
  });

  it('refuses to start when a route has no entry in the policy table', async () => {
    const extra = buildApiServer(deps);
    assert.throws(() => extra.get('/api/unlisted', async () => ({ secret: true })), MissingRoutePolicyError);
    await extra.close();
  });

  it('lists in the policy table only routes that exist', () => {
    for (const key of Object.keys(ROUTE_POLICY)) {
      const [method, url] = key.split(' ') as [string, string];
      assert.ok(app.hasRoute({ method: method as 'GET', url }), `policy entry ${key} names no route`);
    }
  });
});
