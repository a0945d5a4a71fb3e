import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getRunStatus } from '../client/runs';
import { STATUS_KEY } from '../workflows/search-attributes';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';
import { isProcessRunning } from './support/processes';
import { taskOf as task, until } from './support/waiting';

function readPids(file: string): number[] {
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .split(/\s+/)
        .filter(Boolean)
        .map(Number)
    : [];
}

/** Upper bound for waits; the kill itself is checked to happen within 10 s (heartbeats every second). */
const SLOW_KILL_MS = 40_000;

/** The script of a long task: records the shell's pid and a background child's pid, then waits. */
function longScript(pidFile: string): string {
  return `sleep 300 & echo "$! $$" >> '${pidFile}'; wait`;
}

// The two runs are independent and mostly wait, so they run side by side.
describe('cancelling a run', { concurrency: true }, () => {
  let engine: TestEngine;
  let dir: string;
  before(async () => {
    engine = await startTestEngine();
    dir = mkdtempSync(path.join(tmpdir(), 'qubinode-cancel-'));
  });
  after(async () => {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('kills the running process group, cancels pending tasks and still runs always clean-up', async (t) => {
    const pidFile = path.join(dir, 'cancel.pids');
    const cleanupMark = path.join(dir, 'cleanup.done');
    const dag = engine.compile(`
id: cancel-me
tasks:
  - id: long
    uses: shell
    with: { script: ${JSON.stringify(longScript(pidFile))} }
  - { id: after-long, uses: noop, needs: long }
  - { id: also-after, uses: noop, needs: after-long, trigger: all_done }
  - id: cleanup
    uses: shell
    needs: long
    trigger: always
    with: { script: ${JSON.stringify(`echo "long was \${{ tasks.long.state }}" > '${cleanupMark}'`)} }
`);
    const runId = await engine.start(dag);
    await until(() => readPids(pidFile).length === 2, 15_000, 'the long task to start');
    const pids = readPids(pidFile);
    assert.ok(pids.every(isProcessRunning), 'both processes run before the cancel');

    const cancelledAt = Date.now();
    await engine.client.workflow.getHandle(runId).cancel();
    await until(() => !pids.some(isProcessRunning), SLOW_KILL_MS, `processes ${pids.join(', ')} to be killed`);
    const killMs = Date.now() - cancelledAt;
    await t.test('kills the process group within 10 s of the cancel', () => {
      assert.ok(killMs < 10_000, `killed ${killMs}ms after the cancel`);
    });

    const status = await engine.wait(runId);
    assert.equal(status.state, 'cancelled');
    assert.equal(status.reason, 'cancelled');
    assert.deepEqual(taskStates(status), { long: 'cancelled', 'after-long': 'cancelled', 'also-after': 'cancelled', cleanup: 'succeeded' });
    assert.match(task(status, 'after-long').reason ?? '', /cancelled/);
    assert.equal(readFileSync(cleanupMark, 'utf8').trim(), 'long was cancelled');
    const description = await engine.client.workflow.getHandle(runId).describe();
    assert.equal(description.status.name, 'CANCELLED');
    assert.equal(description.typedSearchAttributes.get(STATUS_KEY), 'cancelled');
  });

  it('ends a run past its DAG timeout, cancelling the long task and saying why', async (t) => {
    const pidFile = path.join(dir, 'timeout.pids');
    const dag = engine.compile(`
id: dag-timeout
timeout: 2s
tasks:
  - { id: quick, uses: noop }
  - id: long
    uses: shell
    needs: quick
    with: { script: ${JSON.stringify(longScript(pidFile))} }
  - { id: after-long, uses: noop, needs: long }
  - { id: report, uses: noop, needs: long, trigger: always, with: { saw: "\${{ tasks.long.state }}" } }
`);
    const started = Date.now();
    const runId = await engine.start(dag);
    const status = await engine.wait(runId);
    const elapsed = Date.now() - started;
    assert.equal(status.state, 'cancelled');
    assert.match(status.reason ?? '', /timed out after 2000ms/);
    assert.deepEqual(taskStates(status), { quick: 'succeeded', long: 'cancelled', 'after-long': 'cancelled', report: 'succeeded' });
    assert.deepEqual(task(status, 'report').outputs, { saw: 'cancelled' });
    assert.ok(elapsed < 2_000 + SLOW_KILL_MS, `the run ended ${elapsed}ms after it started`);
    await t.test('ends the run within 10 s of its 2 s timeout', () => {
      assert.ok(elapsed < 12_000, `the run ended ${elapsed}ms after it started`);
    });
    const pids = readPids(pidFile);
    assert.equal(pids.length, 2);
    assert.ok(!pids.some(isProcessRunning), `processes ${pids.join(', ')} are gone once the run ended`);

    // The workflow itself fails with DagRunTimedOut, carrying the status.
    const failure = await engine.client.workflow
      .getHandle(runId)
      .result()
      .then(
        () => undefined,
        (error: unknown) => error as { cause?: { type?: string } },
      );
    assert.equal(failure?.cause?.type, 'DagRunTimedOut');
    const description = await engine.client.workflow.getHandle(runId).describe();
    assert.equal(description.typedSearchAttributes.get(STATUS_KEY), 'cancelled');
  });

  it('cancels a running child DAG with its parent, and the child still runs its clean-up', async () => {
    const dag = engine.compile(
      `
id: parent-of-sleeper
tasks:
  - { id: call, uses: dag, with: { dag: sleeper } }
  - { id: after-call, uses: noop, needs: call }
`,
      {
        sleeper: `
id: sleeper
tasks:
  - { id: nap, uses: sleep, with: { duration: 5m } }
  - { id: tidy, uses: noop, needs: nap, trigger: always }
`,
      },
    );
    const runId = await engine.start(dag);
    let childRunId = '';
    await until(
      async () => {
        const status = await getRunStatus(engine.client, runId);
        childRunId = task(status, 'call').childRunId ?? '';
        return childRunId !== '' && (await getRunStatus(engine.client, childRunId).then((child) => task(child, 'nap').state === 'running', () => false));
      },
      15_000,
      'the child run to start its sleep',
    );
    await engine.client.workflow.getHandle(runId).cancel();
    const status = await engine.wait(runId);
    assert.equal(status.state, 'cancelled');
    assert.deepEqual(taskStates(status), { call: 'cancelled', 'after-call': 'cancelled' });
    const child = await engine.wait(childRunId);
    assert.equal(child.state, 'cancelled');
    assert.deepEqual(taskStates(child), { nap: 'cancelled', tidy: 'succeeded' });
  });

  it('fails the calling task with DagRunTimedOut when a child DAG passes its own timeout', async () => {
    const dag = engine.compile(
      `
id: parent-of-slow-child
tasks:
  - { id: call, uses: dag, with: { dag: slow-child } }
  - { id: on-failure, uses: noop, needs: call, trigger: one_failed }
`,
      {
        'slow-child': `
id: slow-child
timeout: 1s
tasks:
  - { id: nap, uses: sleep, with: { duration: 5m } }
`,
      },
    );
    const status = await engine.run(dag);
    assert.equal(status.state, 'failed');
    const call = task(status, 'call');
    assert.equal(call.state, 'failed');
    assert.equal(call.error?.type, 'DagRunTimedOut');
    assert.match(call.error?.message ?? '', /timed out after 1000ms/);
    assert.equal(task(status, 'on-failure').state, 'succeeded');
    const child = await engine.wait(call.childRunId ?? '');
    assert.equal(child.state, 'cancelled');
    assert.match(child.reason ?? '', /timed out after 1000ms/);
  });

  it('does not report success for a parent whose child run was cancelled on its own', async () => {
    const dag = engine.compile(
      `
id: parent-of-cancelled-child
tasks:
  - { id: call, uses: dag, with: { dag: sleeper } }
  - { id: after-call, uses: noop, needs: call }
`,
      { sleeper: `
id: sleeper
tasks:
  - { id: nap, uses: sleep, with: { duration: 5m } }
` },
    );
    const runId = await engine.start(dag);
    let childRunId = '';
    await until(
      async () => {
        childRunId = task(await getRunStatus(engine.client, runId), 'call').childRunId ?? '';
        return childRunId !== '' && (await getRunStatus(engine.client, childRunId).then((child) => task(child, 'nap').state === 'running', () => false));
      },
      15_000,
      'the child run to start its sleep',
    );
    // Someone cancels the child (e.g. in the Temporal UI), not the parent.
    await engine.client.workflow.getHandle(childRunId).cancel();
    const status = await engine.wait(runId);
    assert.equal(task(status, 'call').state, 'cancelled');
    assert.equal(task(status, 'after-call').state, 'skipped');
    assert.notEqual(status.state, 'succeeded', 'a run whose task was cancelled did not do its work');
    assert.equal(status.state, 'failed');
  });
});
