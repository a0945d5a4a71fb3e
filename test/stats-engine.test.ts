import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildApiServer } from '../api/server';
import { RunStats, type DagStats } from '../client/run-stats';
import { listRunRecords, readRunStats } from '../client/stats';
import { visibilityLiteral } from '../client/stats-request';
import { createLogger } from '../config/logger';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { analysisWorkflowId } from '../workflows/workflow-ids';
import { apiRequest } from './support/api-request';
import { qubinodeFromSource } from './support/cli';
import { startTestEngine, type TestEngine } from './support/engine';
import { until } from './support/waiting';

const TOKEN = 'stats-test-token-0123456789abcdef';

// The outcome is a param, reaching the script as an environment value: `fail` ends the task with dnf's
// "no match" error, which the rules analyser files under package-not-found.
const dagText = (id: string): string => `
id: ${id}
params:
  outcome: { type: string, default: pass }
tasks:
  - id: check
    uses: shell
    with:
      env: { OUTCOME: "\${{ params.outcome }}" }
      script: |
        if [ "$OUTCOME" = fail ]; then echo "Error: Unable to find a match: libvirt-dameon" >&2; exit 1; fi
        echo ok
`;

describe('run analytics from Temporal visibility, against the dev server', () => {
  let engine: TestEngine;
  let app: ReturnType<typeof buildApiServer>;
  let base: string;
  let catalogId: string;
  let failedRunId: string;
  const call = (url: string, token: string | null = TOKEN): Promise<Response> => apiRequest(base, 'GET', url, token);
  const statsOf = (stats: RunStats): DagStats | undefined => stats.dags.find((entry) => entry.dag === catalogId);

  before(async () => {
    engine = await startTestEngine({ env: { QUBINODE_AI_ANALYSIS: 'rules' } });
    app = buildApiServer({ config: { ...engine.config, taskQueue: engine.taskQueue }, logger: createLogger('error', 'stats-test'), client: engine.client, registry: new ActionRegistry(), token: TOKEN });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    // A DAG id of its own, so runs of earlier test sessions on the shared dev server are not counted.
    const dag = engine.compile(dagText(`stats-${randomUUID().slice(0, 8)}`));
    catalogId = dag.catalogId;
    const ids = await Promise.all([engine.start(dag), engine.start(dag), engine.start(dag, { outcome: 'fail' })]);
    failedRunId = ids[2] as string;
    const statuses = await Promise.all(ids.map((id) => engine.wait(id)));
    assert.deepEqual(
      statuses.map((status) => status.state),
      ['succeeded', 'succeeded', 'failed'],
    );
    // Visibility is eventually consistent, and the analysis ends after the run: wait until both show.
    await until(
      async () => {
        const figures = statsOf(await readRunStats(engine.client, { dag: catalogId, since: '1h' }));
        return figures?.runs === 3 && figures.categorised === 1;
      },
      30_000,
      `visibility to show the three runs of ${catalogId} and the failed one's analysis`,
    );
  });
  after(async () => {
    await app?.close();
    await engine?.close();
  });

  it('counts the runs of a DAG, its success rate, durations, the failed run’s error type and its analysis category', async () => {
    const stats = await readRunStats(engine.client, { dag: catalogId, since: '1h' });
    assert.equal(stats.complete, true);
    assert.deepEqual(
      stats.dags.map((entry) => entry.dag),
      [catalogId],
      'a DAG filter reads only that DAG',
    );
    const figures = statsOf(stats) as DagStats;
    assert.deepEqual({ runs: figures.runs, succeeded: figures.succeeded, failed: figures.failed, cancelled: figures.cancelled, running: figures.running }, { runs: 3, succeeded: 2, failed: 1, cancelled: 0, running: 0 });
    assert.equal(figures.successRate, 2 / 3);
    assert.equal(figures.durationMs.count, 3);
    assert.ok(figures.durationMs.p50 !== null && figures.durationMs.p95 !== null && figures.durationMs.p50 <= figures.durationMs.p95);
    assert.deepEqual(figures.errorTypes, { CommandFailed: 1 });
    assert.deepEqual(figures.categories, { 'package-not-found': 1 });
    const analysis = await engine.client.workflow.getHandle(analysisWorkflowId(failedRunId, 'check')).result();
    assert.equal((analysis as { category?: string }).category, 'package-not-found', 'the category counted is the one the analysis recorded');
  });

  it('reads no analysis when the category limit is zero, and counts the failure by error type all the same', async () => {
    const figures = statsOf(await readRunStats(engine.client, { dag: catalogId, since: '1h' }, { categoryLimit: 0 })) as DagStats;
    assert.equal(figures.failed, 1);
    assert.equal(figures.categorised, 0);
    assert.deepEqual(figures.categories, {});
    assert.equal(Object.values(figures.errorTypes)[0], 1);
  });

  it('never widens the query when a hostile value reaches a literal unchecked: it matches nothing', async () => {
    for (const hostile of [`${catalogId}' OR WorkflowType = 'dagRun`, `${catalogId}\\' OR WorkflowType = 'dagRun`]) {
      const { records } = await listRunRecords(engine.client, `WorkflowType = 'dagRun' AND QubinodeDag = ${visibilityLiteral(hostile)}`, 10);
      assert.deepEqual(records, [], hostile);
    }
  });

  it('answers GET /api/stats for a viewer with the same figures, by DAG and window', async () => {
    const response = await call(`/api/stats?dag=${encodeURIComponent(catalogId)}&since=1h`);
    assert.equal(response.status, 200);
    const body = RunStats.parse(await response.json());
    const figures = statsOf(body) as DagStats;
    assert.equal(figures.runs, 3);
    assert.equal(figures.successRate, 2 / 3);
    assert.deepEqual(figures.categories, { 'package-not-found': 1 });
    assert.equal(body.dag, catalogId);
    // A page that refreshes shares the reading of the same request for a while: the same instant answers.
    const again = RunStats.parse(await (await call(`/api/stats?dag=${encodeURIComponent(catalogId)}&since=1h`)).json());
    assert.equal(again.until, body.until);
  });

  it('refuses GET /api/stats without a token (however the path is spelled), and a bad window, an injected DAG id or an unknown parameter with 400 naming the problem', async () => {
    assert.equal((await call('/api/stats', null)).status, 401);
    assert.equal((await call('/api/stats', 'wrong-token-wrong-token')).status, 401);
    // A percent-encoded spelling is judged as the route it matches; other spellings match none.
    assert.equal((await call('/api/%73tats', null)).status, 401);
    assert.equal((await call(`/api/%73tats?dag=${encodeURIComponent(catalogId)}&since=1h`)).status, 200);
    assert.equal((await call('/api/stats/')).status, 404);
    assert.equal((await call('/API/stats')).status, 404);
    const badSince = await call('/api/stats?since=yesterday');
    assert.equal(badSince.status, 400);
    assert.match(JSON.stringify(await badSince.json()), /since.*expected a duration such as 90m, 24h, 7d or 2w/);
    const injected = await call(`/api/stats?dag=${encodeURIComponent(`${catalogId}' OR WorkflowType = 'dagRun`)}`);
    assert.equal(injected.status, 400);
    assert.match(JSON.stringify(await injected.json()), /dag.*DAG id part must start with a letter or digit/);
    for (const url of [
      `/api/stats?dag=${encodeURIComponent('examples/x AND QubinodeStatus != ""')}`,
      '/api/stats?dag=examples%2F..%2F..%2Fetc',
      '/api/stats?dag=hello',
      `/api/stats?dag=examples/${'a'.repeat(5000)}`,
      '/api/stats?dag=examples/a&dag=examples/b',
      `/api/stats?since=${'9'.repeat(1000)}d`,
      '/api/stats?since=2099-01-01',
      '/api/stats?since=7d&limit=1',
      '/api/stats?dag[repo]=examples&dag[id]=hello',
      '/api/stats?since[]=7d',
    ]) {
      assert.equal((await call(url)).status, 400, url);
    }
  });

  it('prints the figures as a table and as JSON with qubinode stats, through Temporal and through the API, and refuses a bad window as a usage error', async () => {
    const direct = await qubinodeFromSource(['stats', '--dag', catalogId, '--since', '1h', '--json'], { QUBINODE_API_URL: undefined, QUBINODE_AI_ANALYSIS: 'rules' });
    assert.equal(direct.code, 0, direct.stderr);
    const json = RunStats.parse(JSON.parse(direct.stdout));
    assert.equal(statsOf(json)?.succeeded, 2);
    const viaApi = await qubinodeFromSource(['stats', '--dag', catalogId, '--since', '1h'], { QUBINODE_API_URL: base, QUBINODE_API_TOKEN: TOKEN, QUBINODE_API_TOKEN_FILE: undefined, TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(viaApi.code, 0, viaApi.stderr);
    const line = viaApi.stdout.split('\n').find((text) => text.startsWith(catalogId)) ?? '';
    assert.match(line, /\s3\s+2\s+1\s+0\s+0\s+66\.7%\s/, viaApi.stdout);
    assert.match(line, /package-not-found 1$/);
    const bad = await qubinodeFromSource(['stats', '--since', 'last week'], { QUBINODE_API_URL: undefined });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /since "last week": expected a duration/);
  });
});
