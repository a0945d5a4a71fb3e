import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { buildApiServer } from '../api/server';
import { addUser, issueToken } from '../client/identity';
import { NoWorkerPollingError, readHostTaskLog, readRunLogs, type RunLogs } from '../client/logs';
import { getRunStatus } from '../client/runs';
import { PROJECT_ROOT } from '../config/config';
import { runLogDir } from '../config/log-layout';
import { createLogger } from '../config/logger';
import { ActionRegistry } from '../dag-repos/actions/registry';
import type { TaskLogChunk } from '../config/task-log-request';
import type { TaskLogReadInput } from '../workflows/task-log-read';
import { createQubinodeWorker, type RunningWorker } from '../workers/qubinode-worker';
import { apiRequest } from './support/api-request';
import { qubinodeFromSource } from './support/cli';
import { startTestEngine, type TestEngine } from './support/engine';
import { taskOf, until } from './support/waiting';
import { workerTemporalAccess } from '../client/worker-access';

const BOOTSTRAP = 'logs-test-bootstrap-token-0123456789';
const logger = createLogger('error', 'task-logs-test');

const TWO_HOSTS = `
id: two-hosts
params:
  host: { type: string }
tasks:
  - id: local
    uses: shell
    with: { script: 'echo "main says hello"' }
  - id: remote
    uses: shell
    needs: local
    runsOn: \${{ params.host }}
    with: { script: 'echo "host says hello"; echo "second host line"' }
`;

interface HostWorker {
  queue: string;
  logDir: string;
  running: RunningWorker;
  done: Promise<void>;
}

/**
 * An activity-only worker on a queue of its own with a log directory of its own, as a hypervisor's
 * worker would be: nothing it writes is on the control plane's disk.
 */
async function startHostWorker(engine: TestEngine): Promise<HostWorker> {
  const queue = `hv-${randomUUID().slice(0, 8)}`;
  const logDir = mkdtempSync(path.join(tmpdir(), 'qubinode-host-logs-'));
  const running = await createQubinodeWorker({ temporalAccess: workerTemporalAccess, config: { ...engine.config, taskQueue: engine.taskQueue, logDir }, logger, taskQueue: queue, runWorkflows: false });
  return { queue, logDir, running, done: running.worker.run().finally(() => running.close()) };
}

async function stopHostWorker(host: HostWorker): Promise<void> {
  if (host.running.worker.getState() === 'RUNNING') host.running.worker.shutdown();
  await host.done.catch(() => undefined);
}

describe('task logs from every host', () => {
  let engine: TestEngine;
  let host: HostWorker;
  let app: ReturnType<typeof buildApiServer>;
  let base: string;
  let viewer: string;
  let runId: string;
  /** The CLI's own log directory is empty: whatever it prints came from a worker. */
  let cliEnv: NodeJS.ProcessEnv;
  /** The remote task's log as its worker wrote it. */
  const hostLog = (): string => readFileSync(path.join(runLogDir(host.logDir, runId), 'remote.log'), 'utf8');

  before(async () => {
    engine = await startTestEngine();
    host = await startHostWorker(engine);
    const config = { ...engine.config, taskQueue: engine.taskQueue, identity: { workflowId: `identity/logs-${randomUUID()}` } };
    app = buildApiServer({ config, logger, client: engine.client, registry: new ActionRegistry(), token: BOOTSTRAP });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const store = { client: engine.client, workflowId: config.identity.workflowId, taskQueue: engine.taskQueue };
    await addUser(store, 'log-reader', ['viewer']);
    viewer = (await issueToken(store, { user: 'log-reader', lifetime: '1h' })).token;
    cliEnv = { QUBINODE_TASK_QUEUE: engine.taskQueue, QUBINODE_LOG_DIR: mkdtempSync(path.join(tmpdir(), 'qubinode-cli-logs-')), QUBINODE_AI_ANALYSIS: 'rules' };

    const status = await engine.run(engine.compile(TWO_HOSTS), { host: host.queue });
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks));
    runId = status.runId;
  });
  after(async () => {
    await app?.close();
    if (host) await stopHostWorker(host);
    await engine?.close();
  });

  it('keeps each log on the disk of the worker that ran the task', () => {
    assert.ok(existsSync(path.join(runLogDir(host.logDir, runId), 'remote.log')), 'the host worker wrote remote.log');
    assert.ok(!existsSync(path.join(runLogDir(engine.logDir, runId), 'remote.log')), 'the main worker has no copy');
    assert.ok(existsSync(path.join(runLogDir(engine.logDir, runId), 'local.log')));
    assert.ok(!existsSync(path.join(runLogDir(host.logDir, runId), 'local.log')));
  });

  it('reads the log of a task that ran on another host through its worker, and of one on the main queue', async () => {
    const remote = await readRunLogs(engine.client, { runId, taskId: 'remote' });
    assert.deepEqual(
      remote.files.map((file) => [file.name, file.queue, file.text]),
      [['remote', host.queue, hostLog()]],
    );
    assert.match(hostLog(), /^host says hello\nsecond host line$/m);
    assert.equal(remote.state, 'succeeded');
    assert.equal(remote.more, false);
    assert.deepEqual(remote.unavailable, []);

    const all = await readRunLogs(engine.client, { runId });
    assert.deepEqual(all.files.map((file) => [file.name, file.queue]).sort(), [
      ['local', engine.taskQueue],
      ['remote', host.queue],
    ]);
    assert.match(all.files.find((file) => file.name === 'local')?.text ?? '', /main says hello/);
    // Asked again from where it stopped, nothing is new.
    assert.deepEqual((await readRunLogs(engine.client, { runId, from: all.next })).files, []);
  });

  it('prints another host\'s task log with qubinode logs, and every task of the run named by its file', async () => {
    const one = await qubinodeFromSource(['logs', runId, 'remote'], cliEnv);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, hostLog());
    const all = await qubinodeFromSource(['logs', runId], cliEnv);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^local \| main says hello$/m);
    assert.match(all.stdout, /^remote \| host says hello$/m);
  });

  it('refuses task ids that are not plain names and unknown tasks in the CLI', async () => {
    const traversal = await qubinodeFromSource(['logs', runId, '../../etc'], cliEnv);
    assert.equal(traversal.code, 2);
    assert.match(traversal.stderr, /taskId: must be a task id/);
    const unknown = await qubinodeFromSource(['logs', runId, 'nope'], cliEnv);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /has no task "nope"/);
  });

  it('serves GET /api/runs/<id>/logs to a viewer, by encoded or raw id, with a cursor to continue from', async () => {
    const encoded = await apiRequest(base, 'GET', `/api/runs/${encodeURIComponent(runId)}/logs?task=remote`, viewer);
    assert.equal(encoded.status, 200);
    const body = (await encoded.json()) as RunLogs & { cursor: string };
    assert.deepEqual(
      body.files.map((file) => [file.name, file.queue, file.text]),
      [['remote', host.queue, hostLog()]],
    );
    assert.equal(body.cursor, `remote:${Buffer.byteLength(hostLog())}`);
    const next = (await (await apiRequest(base, 'GET', `/api/runs/${runId}/logs?task=remote&from=${encodeURIComponent(body.cursor)}`, viewer)).json()) as RunLogs;
    assert.deepEqual(next.files, []);
    assert.equal(next.state, 'succeeded');
    const start = Buffer.byteLength(hostLog().slice(0, hostLog().indexOf('\nsecond host line\n') + 1));
    const offset = (await (await apiRequest(base, 'GET', `/api/runs/${runId}/logs?task=remote&offset=${start}`, viewer)).json()) as RunLogs;
    assert.match(offset.files[0]?.text ?? '', /^second host line\n=== exit 0/);
  });

  it('refuses log requests without a token, with traversal or encoded ids, and bad offsets; a huge offset reads nothing', async () => {
    const logs = `/api/runs/${encodeURIComponent(runId)}/logs`;
    assert.equal((await apiRequest(base, 'GET', `${logs}?task=remote`, null)).status, 401);
    assert.equal((await apiRequest(base, 'GET', `${logs}?task=remote`, 'qnt_not-a-real-token-at-all-000000')).status, 401);
    for (const query of [
      'task=../../etc',
      'task=..%2F..%2Fetc',
      'task=%252e%252e',
      'task=remote%00',
      'offset=-1',
      'offset=1e400',
      'offset=abc',
      'from=..%2Fsecret:0',
      'from=remote:-5',
      'from=remote',
      'maxBytes=999999999',
      'path=/etc/passwd',
      `task=${'x'.repeat(100)}`,
    ]) {
      const response = await apiRequest(base, 'GET', `${logs}?${query}`, viewer);
      assert.equal(response.status, 400, `${query} answered ${response.status}`);
    }
    // An oversized cursor is refused by the query's bound, or before that by the HTTP server's header limit.
    const oversized = await apiRequest(base, 'GET', `${logs}?from=${'remote:1,'.repeat(2000)}remote:1`, viewer);
    assert.ok([400, 431].includes(oversized.status), `an oversized cursor answered ${oversized.status}`);
    for (const runPath of ['dag%2Fx%2F..%2F..%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd', 'dag%2F.%2F.%2Fx']) {
      assert.equal((await apiRequest(base, 'GET', `/api/runs/${runPath}/logs`, viewer)).status, 400, runPath);
    }
    const huge = await apiRequest(base, 'GET', `${logs}?task=remote&offset=${Number.MAX_SAFE_INTEGER}`, viewer);
    assert.equal(huge.status, 200);
    assert.deepEqual(((await huge.json()) as RunLogs).files, []);
    assert.equal((await apiRequest(base, 'GET', `${logs}?task=nope`, viewer)).status, 404);
    assert.equal((await apiRequest(base, 'GET', `/api/runs/dag/test/two-hosts/no-such-run/logs`, viewer)).status, 404);
  });

  it('follows a running task on another host: lines appear while it runs, and the command ends with the run', async () => {
    const gate = path.join(mkdtempSync(path.join(tmpdir(), 'qubinode-gate-')), 'open');
    const followed = await engine.start(
      engine.compile(`
id: ticker
params:
  host: { type: string }
  gate: { type: string }
tasks:
  - id: tick
    uses: shell
    runsOn: \${{ params.host }}
    with:
      script: 'echo "tick one"; while [ ! -e "$GATE" ]; do sleep 0.2; done; echo "tick two"'
      env: { GATE: '\${{ params.gate }}' }
`),
      { host: host.queue, gate },
    );
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(PROJECT_ROOT, 'cli', 'main.ts'), 'logs', followed, 'tick', '--follow'], { cwd: PROJECT_ROOT, env: { ...process.env, ...cliEnv } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await until(() => /^tick one$/m.test(stdout), 90_000, `"tick one" from qubinode logs --follow (stderr: ${stderr})`);
      // The task waits for the gate, so it is still running: the line came while it ran.
      assert.equal(taskOf(await getRunStatus(engine.client, followed), 'tick').state, 'running');
      assert.doesNotMatch(stdout, /^tick two$/m);
      writeFileSync(gate, '');
      assert.equal(await exited, 0, stderr);
      assert.match(stdout, /^tick one\ntick two$/m);
    } finally {
      child.kill();
    }
  });

  it('answers that a host has no worker polling when its queue was never polled', async () => {
    const nobody = `nobody-${randomUUID().slice(0, 8)}`;
    await assert.rejects(
      () => readHostTaskLog(engine.client, { workflowQueue: engine.taskQueue, hostQueue: nobody, request: { runId } }),
      (error: unknown) => error instanceof NoWorkerPollingError && error.message === `host ${nobody} has no worker polling`,
    );
  });

  it('ends a read whose host worker never picks it up with NoWorkerPolling instead of waiting forever', async () => {
    const nobody = `nobody-${randomUUID().slice(0, 8)}`;
    const input: TaskLogReadInput = { hostQueue: nobody, request: { runId }, noWorkerAfterMs: 1000 };
    await assert.rejects(
      () => engine.client.workflow.execute<(input: TaskLogReadInput) => Promise<TaskLogChunk>>('taskLogRead', { taskQueue: engine.taskQueue, workflowId: `logs/test/${randomUUID()}`, args: [input], workflowExecutionTimeout: '1m' }),
      (error: unknown) => {
        assert.ok(error instanceof WorkflowFailedError, String(error));
        assert.ok(error.cause instanceof ApplicationFailure);
        assert.equal(error.cause.type, 'NoWorkerPolling');
        assert.equal(error.cause.message, `host ${nobody} has no worker polling`);
        return true;
      },
    );
  });

  it('still reads the other hosts when one host\'s worker is gone, and names the missing host (CLI exit 1, API 503)', async () => {
    const gone = await startHostWorker(engine);
    const status = await engine.run(engine.compile(TWO_HOSTS), { host: gone.queue });
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks));
    assert.match(readFileSync(String(taskOf(status, 'remote').logPath), 'utf8'), /host says hello/);
    await stopHostWorker(gone);

    const partial = await readRunLogs(engine.client, { runId: status.runId, noWorkerAfterMs: 1000 });
    assert.deepEqual(partial.files.map((file) => file.name), ['local']);
    assert.deepEqual(partial.unavailable, [{ queue: gone.queue, message: `host ${gone.queue} has no worker polling` }]);

    const cli = await qubinodeFromSource(['logs', status.runId, 'remote'], cliEnv);
    assert.equal(cli.code, 1);
    assert.match(cli.stderr, new RegExp(`host ${gone.queue} has no worker polling`));
    const api = await apiRequest(base, 'GET', `/api/runs/${encodeURIComponent(status.runId)}/logs?task=remote`, viewer);
    assert.equal(api.status, 503);
    assert.match(((await api.json()) as { error: string }).error, new RegExp(`host ${gone.queue} has no worker polling`));
  });
});
