import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildApiServer } from '../api/server';
import { PROJECT_ROOT } from '../config/config';
import { createLogger } from '../config/logger';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { apiRequest } from './support/api-request';
import { startTestEngine, type TestEngine } from './support/engine';

const TOKEN = 'test-token-0123456789abcdef';

describe('HTTP API', () => {
  let engine: TestEngine;
  let app: ReturnType<typeof buildApiServer>;
  let base: string;
  const call = (method: string, url: string, body?: unknown, token: string | null = TOKEN): Promise<Response> => apiRequest(base, method, url, token, body);

  before(async () => {
    engine = await startTestEngine();
    const config = { ...engine.config, taskQueue: engine.taskQueue, dagDirectories: [{ repo: 'cli', dir: path.join(PROJECT_ROOT, 'test', 'fixtures', 'cli-repo') }] };
    app = buildApiServer({ config, logger: createLogger('error', 'api-test'), client: engine.client, registry: new ActionRegistry(), token: TOKEN });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await app.close();
    await engine.close();
  });

  it('answers /healthz without a token with only ok, and the details on /api/health to a caller', async () => {
    const response = await call('GET', '/healthz', undefined, null);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: 'ok' });
    assert.deepEqual(await (await call('GET', '/api/health')).json(), { status: 'ok', temporal: 'ok', taskQueue: engine.taskQueue });
  });

  it('refuses /api without a bearer token or with a wrong one', async () => {
    assert.equal((await call('GET', '/api/dags', undefined, null)).status, 401);
    assert.equal((await call('GET', '/api/dags', undefined, 'wrong-token-wrong-token')).status, 401);
    assert.equal((await call('POST', '/api/runs', { dag: 'cli/ok' }, null)).status, 401);
  });

  it('lists the DAG catalog with params', async () => {
    const response = await call('GET', '/api/dags');
    assert.equal(response.status, 200);
    const dags = (await response.json()) as { id: string; valid: boolean; tasks: string[] }[];
    assert.deepEqual(dags.find((dag) => dag.id === 'cli/ok')?.tasks, ['say', 'after']);
  });

  it('rejects bad params with 400 naming each problem, and unknown DAGs with 404', async () => {
    const bad = await call('POST', '/api/runs', { dag: 'cli/ok', params: { count: 'x', extra: 1 } });
    assert.equal(bad.status, 400);
    const body = (await bad.json()) as { problems: { param: string }[] };
    assert.deepEqual(body.problems.map((problem) => problem.param).sort(), ['count', 'extra']);
    assert.equal((await call('POST', '/api/runs', { dag: 'cli/nope' })).status, 404);
    assert.equal((await call('POST', '/api/runs', { dagg: 'cli/ok' })).status, 400);
  });

  it('starts a run, reports its status by encoded or raw id, and refuses a duplicate run key', async () => {
    const runKey = `api-${Date.now()}`;
    const created = await call('POST', '/api/runs', { dag: 'cli/ok', params: { word: 'api' }, runKey });
    assert.equal(created.status, 201);
    const { runId } = (await created.json()) as { runId: string };
    assert.equal(runId, `dag/cli/ok/${runKey}`);
    await engine.wait(runId);
    const encoded = (await (await call('GET', `/api/runs/${encodeURIComponent(runId)}`)).json()) as { status: string; tasks: { id: string; needs?: string[]; outputs?: { stdout?: string } }[] };
    assert.equal(encoded.status, 'succeeded');
    assert.equal(encoded.tasks[0]?.outputs?.stdout, 'api x1\n');
    // The edges travel with the status, so a finished run can be drawn as a graph from its status alone.
    assert.deepEqual(encoded.tasks.map((task) => [task.id, task.needs ?? []]), [['say', []], ['after', ['say']]]);
    const raw = (await (await call('GET', `/api/runs/${runId}`)).json()) as { status: string };
    assert.equal(raw.status, 'succeeded');
    assert.equal((await call('POST', '/api/runs', { dag: 'cli/ok', runKey })).status, 409);
    assert.equal((await call('GET', '/api/runs/dag/cli/ok/no-such-run')).status, 404);
  });

  it('cancels a running run', async () => {
    const created = await call('POST', '/api/runs', { dag: 'cli/slow' });
    const { runId } = (await created.json()) as { runId: string };
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const cancelled = await call('POST', `/api/runs/${encodeURIComponent(runId)}/cancel`);
    assert.equal(cancelled.status, 202);
    assert.equal((await engine.wait(runId)).state, 'cancelled');
  });
});
