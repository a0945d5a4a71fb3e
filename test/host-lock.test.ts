import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getRunStatus } from '../client/runs';
import { DagValidationError } from '../dag-repos/compiler/diagnostics';
import { hostLockStateQuery } from '../workflows/host-lock';
import { hostLockWorkflowId } from '../workflows/workflow-ids';
import { startTestEngine, type TestEngine } from './support/engine';
import { until } from './support/waiting';

/** A task on `params.host` that writes `start`/`end` lines to `params.log`; it waits for file `gate` first and creates file `release` last, when given. */
const ON_HOST = (extra = ''): string => `
id: on-host
params:
  host: { type: string }
  log: { type: string }
  gate: { type: string, default: "" }
  release: { type: string, default: "" }
${extra}
tasks:
  - id: work
    uses: shell
    runsOn: \${{ params.host }}
    timeout: 60s
    with:
      env: { LOG: "\${{ params.log }}", GATE: "\${{ params.gate }}", RELEASE: "\${{ params.release }}", RUN: "\${{ run.key }}" }
      script: |
        echo "start $RUN" >> "$LOG"
        if [ -n "$GATE" ]; then until [ -e "$GATE" ]; do sleep 0.2; done; fi
        echo "end $RUN" >> "$LOG"
        if [ -n "$RELEASE" ]; then touch "$RELEASE"; fi
`;

describe('one job per host: runs that target one host take turns', () => {
  let engine: TestEngine;
  let dir: string;
  before(async () => {
    engine = await startTestEngine();
    dir = mkdtempSync(path.join(tmpdir(), 'qn-host-lock-'));
  });
  after(async () => {
    await engine?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const newHost = async (): Promise<string> => {
    const host = `hl-${randomUUID().slice(0, 8)}`;
    await engine.addWorker(host, false);
    return host;
  };
  // Run keys are unique per run of this file: the dev server keeps runs of earlier ones.
  const suffix = randomUUID().slice(0, 6);
  const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : []);

  it('makes the second run wait, showing the host and who holds it, and start only after the first ends', async () => {
    const host = await newHost();
    const log = path.join(dir, 'serial.log');
    const gate = path.join(dir, 'serial.gate');
    const dag = engine.compile(ON_HOST());
    const first = await engine.start(dag, { host, log, gate }, `first-${suffix}`);
    await until(() => lines(log).includes(`start first-${suffix}`), 60_000, 'the first run to start on the host');
    const second = await engine.start(dag, { host, log }, `second-${suffix}`);
    await until(async () => (await getRunStatus(engine.client, second)).waitingForHost?.heldBy !== undefined, 60_000, 'the second run to say whom it waits for');
    const waiting = await getRunStatus(engine.client, second);
    assert.equal(waiting.waitingForHost?.host, host);
    assert.equal(waiting.waitingForHost?.heldBy, first);
    assert.equal(waiting.state, 'running');
    assert.ok(!lines(log).includes(`start second-${suffix}`), 'the second run has not touched the host');
    writeFileSync(gate, '');
    assert.equal((await engine.wait(first)).state, 'succeeded');
    assert.equal((await engine.wait(second)).state, 'succeeded');
    assert.deepEqual(lines(log), [`start first-${suffix}`, `end first-${suffix}`, `start second-${suffix}`, `end second-${suffix}`]);
    const finished = await getRunStatus(engine.client, second);
    assert.equal(finished.waitingForHost, undefined);
  });

  it('lets runs of a DAG that says `exclusive: false` share the host', async () => {
    const host = await newHost();
    const log = path.join(dir, 'shared.log');
    // The first run ends only after the second has run: taking turns, they would wait for each other until the task's timeout.
    const gate = path.join(dir, 'shared.gate');
    const dag = engine.compile(ON_HOST('hosts: { exclusive: false }'));
    const first = await engine.start(dag, { host, log, gate }, `shared-first-${suffix}`);
    await until(() => lines(log).includes(`start shared-first-${suffix}`), 60_000, 'the first run to start');
    const second = await engine.start(dag, { host, log, release: gate }, `shared-second-${suffix}`);
    assert.equal((await engine.wait(second)).state, 'succeeded');
    assert.equal((await engine.wait(first)).state, 'succeeded');
    assert.deepEqual(lines(log), [`start shared-first-${suffix}`, `start shared-second-${suffix}`, `end shared-second-${suffix}`, `end shared-first-${suffix}`]);
  });

  it('hands the host to the next run when the holder is cancelled', async () => {
    const host = await newHost();
    const log = path.join(dir, 'cancel.log');
    const dag = engine.compile(ON_HOST());
    const first = await engine.start(dag, { host, log, gate: path.join(dir, 'never') }, `cancelled-holder-${suffix}`);
    await until(() => lines(log).includes(`start cancelled-holder-${suffix}`), 60_000, 'the holder to start');
    const second = await engine.start(dag, { host, log }, `after-cancel-${suffix}`);
    await until(async () => (await getRunStatus(engine.client, second)).waitingForHost !== undefined, 60_000, 'the second run to wait');
    await engine.client.workflow.getHandle(first).cancel();
    assert.equal((await engine.wait(second)).state, 'succeeded');
    writeFileSync(path.join(dir, 'never'), '');
    assert.equal((await engine.wait(first)).state, 'cancelled');
  });

  it('hands the host on when the holder dies without releasing it (terminated)', async () => {
    const host = await newHost();
    const log = path.join(dir, 'terminated.log');
    const dag = engine.compile(ON_HOST());
    const first = await engine.start(dag, { host, log, gate: path.join(dir, 'never-either') }, `terminated-holder-${suffix}`);
    await until(() => lines(log).includes(`start terminated-holder-${suffix}`), 60_000, 'the holder to start');
    const second = await engine.start(dag, { host, log }, `after-terminate-${suffix}`);
    await until(async () => (await getRunStatus(engine.client, second)).waitingForHost?.heldBy !== undefined, 60_000, 'the second run to wait');
    await engine.client.workflow.getHandle(first).terminate('holder dies');
    assert.equal((await engine.wait(second)).state, 'succeeded');
    // Terminating a run leaves its activity to its timeout; let the orphan finish so the worker can stop.
    writeFileSync(path.join(dir, 'never-either'), '');
    const lock = await engine.client.workflow.getHandle(hostLockWorkflowId(engine.taskQueue, host)).query(hostLockStateQuery);
    assert.deepEqual(lock.holders, [], 'nobody holds the host after the second run ended');
  });

  it('never makes a sub-DAG wait for the host its own parent run holds', async () => {
    const host = await newHost();
    const child = `
id: child
params: { host: { type: string } }
tasks:
  - { id: inner, uses: shell, runsOn: "\${{ params.host }}", with: { script: "true" } }
`;
    const dag = engine.compile(
      `
id: parent
params: { host: { type: string } }
tasks:
  - { id: outer, uses: shell, runsOn: "\${{ params.host }}", with: { script: "true" } }
  - { id: call, uses: dag, needs: outer, with: { dag: child, params: { host: "\${{ params.host }}" } } }
`,
      { child },
    );
    const status = await engine.run(dag, { host });
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks.map((task) => [task.id, task.state, task.error?.message])));
  });
});

describe('a task whose host has no worker fails after the DAG\'s limit, naming the host', () => {
  let engine: TestEngine;
  before(async () => {
    engine = await startTestEngine();
  });
  after(async () => {
    await engine?.close();
  });

  it('fails with "host ... has no worker" once hosts.workerWait has passed', async () => {
    const host = `gone-${randomUUID().slice(0, 8)}`;
    const dag = engine.compile(`
id: lonely
params: { host: { type: string } }
hosts: { workerWait: 2s }
tasks:
  - { id: there, uses: shell, runsOn: "\${{ params.host }}", with: { script: "true" } }
`);
    const status = await engine.run(dag, { host });
    assert.equal(status.state, 'failed');
    const task = status.tasks.find((entry) => entry.id === 'there');
    assert.equal(task?.error?.type, 'HostWithoutWorker');
    assert.match(task?.error?.message ?? '', new RegExp(`^host ${host} has no worker .*task there waited 2s`));
  });

  it('takes a limit for one host over the DAG\'s own', async () => {
    const host = `slow-${randomUUID().slice(0, 8)}`;
    const dag = engine.compile(`
id: per-host
params: { host: { type: string } }
hosts: { workerWait: 1h, workerWaitFor: { ${host}: 2s } }
tasks:
  - { id: there, uses: shell, runsOn: "\${{ params.host }}", with: { script: "true" } }
`);
    const status = await engine.run(dag, { host });
    assert.match(status.tasks[0]?.error?.message ?? '', /waited 2s/);
  });

  it('refuses host settings that are not host names or durations, saying where', () => {
    const bad = [
      ['hosts: { workerWaitFor: { "../etc": 5s } }', /hosts\.workerWaitFor\.\.\.\/etc.*is not a host queue/],
      ['hosts: { workerWaitFor: { "hv1;id": 5s } }', /is not a host queue/],
      ['hosts: { workerWait: forever }', /hosts\.workerWait/],
      ['hosts: { exclusive: "no" }', /hosts\.exclusive/],
      ['hosts: { lock: true }', /lock/],
    ] as const;
    for (const [line, message] of bad) {
      assert.throws(
        () => engine.compile(`id: bad\n${line}\ntasks:\n  - { id: a, uses: noop }\n`),
        (error: unknown) => error instanceof DagValidationError && message.test(error.message),
        line,
      );
    }
    const many = Object.fromEntries(Array.from({ length: 201 }, (_, index) => [`hv${index}`, '5s']));
    assert.throws(() => engine.compile(`id: bad\nhosts: { workerWaitFor: ${JSON.stringify(many)} }\ntasks:\n  - { id: a, uses: noop }\n`), /at most 200 hosts/);
  });
});
