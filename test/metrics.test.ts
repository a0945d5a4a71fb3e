import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { LabelCap, OTHER_LABEL } from '../api/metric-labels';
import { freePort } from '../bench/free-port';
import { RunCounts } from '../api/run-counts';
import { buildApiServer } from '../api/server';
import { addRepo, getRepo, removeRepo } from '../client/repos';
import { loadConfig, PROJECT_ROOT } from '../config/config';
import { createLogger } from '../config/logger';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { hmacSignature, signTrigger } from '../dag-repos/git/webhook-verify';
import { attemptLabel } from '../workers/metrics';
import { apiRequest } from './support/api-request';
import { startTestEngine, type TestEngine } from './support/engine';
import { dagYaml, GitFixture } from './support/git-fixture';
import { until, untilTaskState } from './support/waiting';

// The SDK runtime (and so the worker's metrics endpoint) is installed once per process: this file
// starts the only engine in its process, with the endpoint on a port of its own.

const BOOTSTRAP = 'metrics-test-bootstrap-token-0123';
const PUSH_SECRET = 'metrics-hook-secret-0123456789';
const TRIGGER_SECRET = 'metrics-trigger-secret-0123456789abcdef';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format, samples only (label values here never hold escaped quotes). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1] as string] = pair[2] as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of the samples named `name` whose labels include `labels` (0 when there are none). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value)).reduce((sum, sample) => sum + sample.value, 0);
}

describe('metrics: the worker endpoint and the API /metrics (real Temporal, real HTTP, real git)', () => {
  let engine: TestEngine;
  let git: GitFixture;
  let app: ReturnType<typeof buildApiServer>;
  let base: string;
  let workerMetricsUrl: string;
  let viewerToken: string;
  const repo = `m${randomUUID().slice(0, 8)}`;

  const scrapeWorker = async (): Promise<Sample[]> => parseMetrics(await (await fetch(workerMetricsUrl)).text());
  const scrapeApi = async (token: string | null = viewerToken): Promise<Sample[]> => {
    const response = await apiRequest(base, 'GET', '/metrics', token);
    assert.equal(response.status, 200);
    return parseMetrics(await response.text());
  };
  const post = (url: string, headers: Record<string, string>, body: string): Promise<Response> => fetch(`${base}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const push = (commit: string, secret = PUSH_SECRET, target = repo): Promise<Response> => {
    const body = JSON.stringify({ ref: 'refs/heads/main', after: commit, repository: { full_name: 'acme/dags' } });
    return post(`/hooks/github/${target}`, { 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': hmacSignature(secret, body) }, body);
  };
  const trigger = (delivery: string, secret = TRIGGER_SECRET, dag = 'ping', target = repo): Promise<Response> => {
    const body = JSON.stringify({ word: 'hi' });
    return post(`/trigger/${target}/${dag}`, signTrigger(secret, body, { delivery, timestamp: Date.now() / 1000 }), body);
  };

  before(async () => {
    process.env.QUBINODE_METRICS_TEST_HOOK_SECRET = PUSH_SECRET;
    process.env.QUBINODE_WEBHOOK_METRICS_PING = TRIGGER_SECRET;
    const port = await freePort();
    workerMetricsUrl = `http://127.0.0.1:${port}/metrics`;
    engine = await startTestEngine({ env: { QUBINODE_WORKER_METRICS_ADDRESS: `127.0.0.1:${port}` } });
    git = new GitFixture();
    git.write('dags/hello.yaml', dagYaml('hello'));
    git.write('dags/ping.yaml', `id: ping\non:\n  webhook:\n    secretEnv: QUBINODE_WEBHOOK_METRICS_PING\ntasks:\n  - id: say\n    uses: shell\n    with: { command: [echo, ping] }\n`);
    git.commitAndPush('first');
    await addRepo(engine.client, { name: repo, url: git.bare, webhookSecretEnv: 'QUBINODE_METRICS_TEST_HOOK_SECRET' }, engine.taskQueue);
    await until(async () => (await getRepo(engine.client, repo)).active !== undefined, 30_000, 'the first sync');
    // The default DAG directories: the examples repository with examples/hello.
    const config = { ...engine.config, taskQueue: engine.taskQueue, identity: { workflowId: `identity/metrics-${randomUUID()}` } };
    app = buildApiServer({ config, logger: createLogger('error', 'metrics-test'), client: engine.client, registry: new ActionRegistry(), token: BOOTSTRAP });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    assert.equal((await apiRequest(base, 'POST', '/api/users', BOOTSTRAP, { name: 'scraper', roles: ['viewer'] })).status, 201);
    const issued = await apiRequest(base, 'POST', '/api/tokens', BOOTSTRAP, { user: 'scraper' });
    viewerToken = ((await issued.json()) as { token: string }).token;
  });
  after(async () => {
    await app?.close();
    await removeRepo(engine.client, repo).catch(() => undefined);
    await engine?.close();
    git?.cleanup();
  });

  it('counts every action of an examples/hello run started through the API beside the SDK series, and the API counts the run', async () => {
    const runsBefore = valueOf(await scrapeApi(), 'qubinode_runs', { dag: 'examples/hello', state: 'succeeded' });
    const created = await apiRequest(base, 'POST', '/api/runs', BOOTSTRAP, { dag: 'examples/hello', params: { api_url: `${base}/healthz` } });
    assert.equal(created.status, 201, await created.clone().text());
    const { runId } = (await created.json()) as { runId: string };
    const status = await engine.wait(runId);
    assert.equal(status.state, 'succeeded');

    const queue = { taskQueue: engine.taskQueue };
    await until(async () => valueOf(await scrapeWorker(), 'qubinode_action_executions_total', { ...queue, activityType: 'httpCheck' }) === 1, 10_000, 'the health check to be counted');
    const worker = await scrapeWorker();
    // prepare, three greetings, count, report, cleanup: seven shell actions, all on their first attempt.
    assert.equal(valueOf(worker, 'qubinode_action_executions_total', { ...queue, activityType: 'shell', outcome: 'succeeded', attempt: '1' }), 7);
    assert.equal(valueOf(worker, 'qubinode_action_executions_total', { ...queue, activityType: 'httpCheck', outcome: 'succeeded', attempt: '1' }), 1);
    assert.equal(valueOf(worker, 'qubinode_action_executions_total', { ...queue, outcome: 'failed' }), 0);
    assert.equal(valueOf(worker, 'qubinode_action_duration_seconds_count', { ...queue, activityType: 'shell', outcome: 'succeeded' }), 7);
    assert.ok(valueOf(worker, 'qubinode_action_duration_seconds_sum', { ...queue, activityType: 'shell' }) > 0);
    // The SDK's own series, on the same endpoint.
    assert.ok(valueOf(worker, 'temporal_workflow_completed_total', { task_queue: engine.taskQueue, workflow_type: 'dagRun' }) >= 1);
    assert.equal(valueOf(worker, 'temporal_activity_execution_latency_seconds_count', { task_queue: engine.taskQueue, activity_type: 'shell' }), 7);

    const api = await scrapeApi();
    assert.equal(valueOf(api, 'qubinode_api_runs_started_total', { dag: 'examples/hello', via: 'api', by: 'bootstrap-admin' }), 1);
    assert.ok(valueOf(api, 'process_cpu_user_seconds_total') > 0);
    await until(async () => valueOf(await scrapeApi(), 'qubinode_runs', { dag: 'examples/hello', state: 'succeeded' }) >= runsBefore + 1, 40_000, 'the finished run in qubinode_runs');
  });

  it('counts a failing action per attempt and a cancelled one as cancelled', async () => {
    const failing = engine.compile(`id: fails\ntasks:\n  - id: broken\n    uses: shell\n    retry: { attempts: 2, delay: 100ms }\n    with: { command: [sh, -c, 'exit 3'] }\n`);
    assert.equal((await engine.run(failing)).state, 'failed');
    const slow = engine.compile(`id: slow\ntasks:\n  - id: wait\n    uses: shell\n    with: { command: [sleep, '60'] }\n`);
    const runId = await engine.start(slow);
    await untilTaskState(engine.client, runId, 'wait', 'running');
    await engine.client.workflow.getHandle(runId).cancel();
    assert.equal((await engine.wait(runId)).state, 'cancelled');

    const queue = { taskQueue: engine.taskQueue, activityType: 'shell' };
    await until(async () => valueOf(await scrapeWorker(), 'qubinode_action_executions_total', { ...queue, outcome: 'cancelled' }) === 1, 10_000, 'the cancelled action to be counted');
    const worker = await scrapeWorker();
    assert.equal(valueOf(worker, 'qubinode_action_executions_total', { ...queue, outcome: 'failed', attempt: '1' }), 1);
    assert.equal(valueOf(worker, 'qubinode_action_executions_total', { ...queue, outcome: 'failed', attempt: '2' }), 1);
    assert.equal(valueOf(worker, 'qubinode_action_duration_seconds_count', { ...queue, outcome: 'cancelled' }), 1);
  });

  it('counts signed and forged webhook deliveries by outcome, and measures push-to-live and push-to-rejected latency', async () => {
    const outcomes = async (receiver: string): Promise<Record<string, number>> => {
      const samples = (await scrapeApi()).filter((sample) => sample.name === 'qubinode_webhook_deliveries_total' && sample.labels.receiver === receiver);
      return Object.fromEntries(samples.map((sample) => [sample.labels.outcome, sample.value]));
    };
    const pushBefore = await outcomes('push');
    const triggerBefore = await outcomes('trigger');

    git.write('dags/extra.yaml', dagYaml('extra'));
    const good = git.commitAndPush('add extra');
    assert.equal((await push(good)).status, 202);
    await until(async () => valueOf(await scrapeApi(), 'qubinode_repo_sync_seconds_count', { outcome: 'live' }) === 1, 30_000, 'the push to be measured live');
    assert.equal((await getRepo(engine.client, repo)).active?.commit, good);
    git.write('dags/broken.yaml', 'id: broken\ntasks: [');
    const bad = git.commitAndPush('break a DAG');
    assert.equal((await push(bad)).status, 202);
    await until(async () => valueOf(await scrapeApi(), 'qubinode_repo_sync_seconds_count', { outcome: 'rejected' }) === 1, 30_000, 'the push to be measured rejected');
    assert.equal((await push(bad, 'not-the-secret-at-all')).status, 401);
    assert.equal((await push(bad, PUSH_SECRET, 'no-such-repo')).status, 401);

    const delivery = randomUUID();
    assert.equal((await trigger(delivery)).status, 202);
    assert.equal((await trigger(delivery)).status, 409);
    assert.equal((await trigger(randomUUID(), 'forged-secret-forged-secret-forged')).status, 401);
    assert.equal((await trigger(randomUUID(), TRIGGER_SECRET, 'no-such-dag')).status, 401);

    const pushAfter = await outcomes('push');
    const triggerAfter = await outcomes('trigger');
    const moved = (after: Record<string, number>, before: Record<string, number>): Record<string, number> =>
      Object.fromEntries(Object.entries(after).filter(([outcome, value]) => value !== (before[outcome] ?? 0)).map(([outcome, value]) => [outcome, value - (before[outcome] ?? 0)]));
    assert.deepEqual(moved(pushAfter, pushBefore), { accepted: 2, bad_signature: 1, unknown_repo: 1 });
    assert.deepEqual(moved(triggerAfter, triggerBefore), { accepted: 1, duplicate: 1, bad_signature: 1, unknown_dag: 1 });
    const api = await scrapeApi();
    assert.equal(valueOf(api, 'qubinode_api_runs_started_total', { dag: `${repo}/ping`, via: 'trigger', by: 'trigger' }), 1);
    assert.ok(valueOf(api, 'qubinode_repo_sync_seconds_sum', { outcome: 'live' }) > 0);
  });

  it('refuses /metrics without a valid token, under other spellings of its path, and to POST', async () => {
    assert.equal((await apiRequest(base, 'GET', '/metrics', null)).status, 401);
    assert.equal((await apiRequest(base, 'GET', '/metrics', 'not-a-token-not-a-token-not')).status, 401);
    for (const spelling of ['/%6Detrics', '/%6detrics', '/metrics/', '/METRICS', '//metrics', '/metrics%2F', '/./metrics', '/api/../metrics', '/metrics;x', '/metrics%00']) {
      const response = await apiRequest(base, 'GET', spelling, null);
      const text = await response.text();
      assert.ok([401, 404, 400].includes(response.status), `${spelling}: ${response.status}`);
      assert.doesNotMatch(text, /qubinode_|process_cpu/, spelling);
    }
    assert.equal((await apiRequest(base, 'POST', '/metrics', viewerToken, {})).status, 404);
    const allowed = await apiRequest(base, 'GET', '/metrics', viewerToken);
    assert.equal(allowed.status, 200);
    assert.match(allowed.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  });

  it('keeps the registry the same size under a flood of deliveries for unknown repositories and DAGs', async () => {
    const series = (samples: Sample[]): string[] => samples.filter((sample) => sample.name.startsWith('qubinode_')).map((sample) => `${sample.name}${JSON.stringify(sample.labels)}`).sort();
    const before = await scrapeApi();
    const flood = Array.from({ length: 150 }, (_, index) => `flood-${index}-${randomUUID().slice(0, 6)}`);
    for (let start = 0; start < flood.length; start += 50) {
      await Promise.all(flood.slice(start, start + 50).flatMap((name) => [push(git.head(), PUSH_SECRET, name), trigger(randomUUID(), TRIGGER_SECRET, name, name)]));
    }
    const afterFlood = await scrapeApi();
    assert.deepEqual(series(afterFlood).filter((key) => !key.startsWith('qubinode_runs')), series(before).filter((key) => !key.startsWith('qubinode_runs')));
    assert.equal(valueOf(afterFlood, 'qubinode_webhook_deliveries_total', { receiver: 'push', outcome: 'unknown_repo' }) - valueOf(before, 'qubinode_webhook_deliveries_total', { receiver: 'push', outcome: 'unknown_repo' }), 150);
    assert.equal(valueOf(afterFlood, 'qubinode_webhook_deliveries_total', { receiver: 'trigger', outcome: 'unknown_dag' }) - valueOf(before, 'qubinode_webhook_deliveries_total', { receiver: 'trigger', outcome: 'unknown_dag' }), 150);
    const text = await (await apiRequest(base, 'GET', '/metrics', viewerToken)).text();
    assert.doesNotMatch(text, /flood-/);
  });

  it('never puts a DAG id that is not a plain name into a visibility query, and counts its runs under _other', async () => {
    const hostile = [`examples/hello' OR WorkflowType != 'dagRun`, 'examples/hello\\', 'x'.repeat(500)];
    const errors: unknown[] = [];
    const counts = new RunCounts({ client: engine.client, dags: async () => [...hostile, 'examples/hello'], onError: (error) => errors.push(error) });
    const snapshot = await counts.current();
    assert.deepEqual(errors, []);
    assert.ok(snapshot);
    assert.ok(snapshot.counts.every((count) => count.dag === OTHER_LABEL || count.dag === 'examples/hello'), JSON.stringify(snapshot.counts));
    assert.ok(snapshot.counts.every((count) => count.count >= 0));
    assert.ok(snapshot.counts.some((count) => count.dag === 'examples/hello' && count.state === 'succeeded' && count.count >= 1));
  });

  it('answers with the previous count when counting again hangs, instead of holding the scrape', async () => {
    let hang = false;
    const counts = new RunCounts({ client: engine.client, dags: () => (hang ? new Promise<string[]>(() => undefined) : Promise.resolve(['examples/hello'])), maxAgeMs: 0, maxWaitMs: 200 });
    const first = await counts.current();
    assert.ok(first?.counts.some((count) => count.dag === 'examples/hello'));
    hang = true;
    assert.equal(await counts.current(), first);
  });
});

describe('metric labels and settings', () => {
  it('caps distinct label values and folds the rest, and anything not a plain name, into _other', () => {
    const cap = new LabelCap(3);
    assert.deepEqual(['a/one', 'a/two', 'a/three', 'a/four', 'a/one'].map((value) => cap.value(value)), ['a/one', 'a/two', 'a/three', OTHER_LABEL, 'a/one']);
    const fresh = new LabelCap(10);
    for (const hostile of ['', 'x"}\nevil{a="1', 'a b', '../etc', 'é', 'x'.repeat(129), '_other', '\u0000']) assert.equal(fresh.value(hostile), OTHER_LABEL, JSON.stringify(hostile));
    assert.deepEqual(fresh.values(), []);
    const flooded = new LabelCap(200);
    for (let index = 0; index < 10_000; index += 1) flooded.value(`repo/dag-${index}`);
    assert.equal(flooded.values().length, 200);
  });

  it('labels attempts 1 to 9 by number and every later attempt as 10+', () => {
    assert.deepEqual([1, 2, 9, 10, 11, 500].map(attemptLabel), ['1', '2', '9', '10+', '10+', '10+']);
  });

  it('accepts an IP and port for QUBINODE_WORKER_METRICS_ADDRESS and refuses host names, port 0 and injected text', () => {
    for (const good of ['127.0.0.1:9464', '0.0.0.0:9464', '[::1]:9464', '[::]:1']) assert.equal(loadConfig({ QUBINODE_WORKER_METRICS_ADDRESS: good }).workerMetricsAddress, good);
    assert.equal(loadConfig({}).workerMetricsAddress, undefined);
    for (const bad of ['localhost:9464', '127.0.0.1:0', '127.0.0.1:99999', '127.0.0.1', ':9464', '127.0.0.1:9464; rm -rf /', '127.0.0.1:9464\n', '999.1.1.1:9464', '[::1:9464', 'http://127.0.0.1:9464', '$(id):9464']) {
      assert.throws(() => loadConfig({ QUBINODE_WORKER_METRICS_ADDRESS: bad }), /QUBINODE_WORKER_METRICS_ADDRESS/, JSON.stringify(bad));
    }
  });

  it('stops a worker whose metrics address is taken rather than running it unobserved', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    // A process of its own: the SDK runtime of this one is installed already.
    const script = `require('./workers/sdk-logger').installSdkRuntime(require('./config/logger').createLogger('silent', 't'), { metricsAddress: '127.0.0.1:${port}' }); console.log('installed');`;
    const result = await promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', script], { cwd: PROJECT_ROOT }).then(
      (done) => ({ code: 0, output: done.stdout + done.stderr }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? -1, output: `${error.stdout ?? ''}${error.stderr ?? ''}` }),
    );
    await new Promise<void>((resolve) => taken.close(() => resolve()));
    assert.notEqual(result.code, 0);
    assert.match(result.output, /Address already in use/);
    assert.doesNotMatch(result.output, /installed/);
  });
});
