// test-tier: full (not in npm run test:quick: a lab, a production server, real guests, apt or the model)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../config/config';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';
import { fleetLabUnavailable, runLabScript, startFleetLab, type FleetLab } from './support/fleet-lab';
import { taskOf, until, untilTaskState } from './support/waiting';

/**
 * host.reboot in the fleet lab (slow tier, root only; lab slot 2): a lab host's reboot is its worker and
 * every process of its namespace going away and a new worker starting (infra/lab/fleet-reboot.sh, which the
 * host's worker runs as its QUBINODE_REBOOT_COMMAND). Nothing is mocked; there are no guests to drain in the
 * lab (no KVM in a namespace), so the drain is `none` here.
 */

const SLOT = 2;

/** The pid of the worker that ran a shell task: the script's parent. */
const WORKER_PID = `echo "worker=$PPID" >> "$QUBINODE_OUTPUTS"`;

const REBOOT_DAG = `id: reboot-hv2
tasks:
  - id: before
    uses: shell
    runsOn: hv2
    with: { script: '${WORKER_PID}' }
  - id: reboot
    uses: host.reboot
    runsOn: hv2
    needs: [before]
    with:
      drain: { mode: none }
      waitFor: 3m
      verify: { command: ['sh', '-c', 'test -n "$QUBINODE_TASK_ID"'] }
  - id: after
    uses: shell
    runsOn: hv2
    needs: [reboot]
    with: { script: '${WORKER_PID}' }
`;

/** A reboot whose verification takes a while on the host: long enough to restart the lab's Temporal under it. */
const SLOW_VERIFY_DAG = `id: reboot-hv2-slow-verify
tasks:
  - id: reboot
    uses: host.reboot
    runsOn: hv2
    with:
      waitFor: 3m
      verify: { command: ['sleep', '15'], timeout: 2m }
  - id: after
    uses: shell
    runsOn: hv2
    needs: [reboot]
    with: { script: '${WORKER_PID}' }
`;

const FAILED_VERIFY_DAG = `id: reboot-hv2-bad-verify
tasks:
  - id: reboot
    uses: host.reboot
    runsOn: hv2
    with:
      waitFor: 3m
      verify: { command: ['sh', '-c', 'echo libvirtd inactive >&2; exit 3'] }
`;

const LOST_DAG = `id: reboot-hv1-lost
tasks:
  - id: reboot
    uses: host.reboot
    runsOn: hv1
    with: { waitFor: 20s }
`;

describe('fleet-reboot.sh refuses unsafe input', () => {
  it('refuses host names that are not hv1..hv32 and any mode but --stay-down, before touching anything', async () => {
    for (const args of [['hv1;id'], ['../hv1'], ['$(id)'], ['hv0'], ['hv 1'], [''], ['hv1', '--stay-up'], ['hv1', '--stay-down;id'], ['hv1', '--stay-down', 'x'], []]) {
      const result = await runLabScript('fleet-reboot.sh', args, { ...process.env, QUBINODE_LAB_SLOT: String(SLOT) });
      assert.equal(result.code, 2, `${JSON.stringify(args)}: ${result.stderr}`);
      assert.match(result.stderr, /host must be hv1\.\.hv32|usage: fleet-reboot\.sh hvN \[--stay-down\]/, JSON.stringify(args));
    }
  });
});

describe('host.reboot in the fleet lab', { skip: fleetLabUnavailable() ?? false, timeout: 600_000 }, () => {
  let lab: FleetLab;
  let engine: TestEngine;
  before(
    async () => {
      lab = await startFleetLab({ hosts: 2, slot: SLOT });
      // The host workers run the code under test, not a dist/ build that may be older.
      lab.env.QUBINODE_FROM_SOURCES = '1';
      // Should a reboot ever reach the control plane's own worker, it must do nothing.
      engine = await startTestEngine({ env: { ...lab.env, QUBINODE_REBOOT_COMMAND: '["true"]' } });
      await Promise.all([lab.startWorker('hv2'), lab.startWorker('hv1', { QUBINODE_LAB_REBOOT: 'stay-down' })]);
    },
    { timeout: 300_000 },
  );
  after(
    async () => {
      await engine?.close();
      await lab?.close();
    },
    { timeout: 120_000 },
  );

  it('reboots hv2 between two tasks on it: the run succeeds and the second task runs on the worker that came back', { timeout: 300_000 }, async (t) => {
    const status = await engine.run(engine.compile(REBOOT_DAG));
    t.diagnostic(JSON.stringify(taskStates(status)));
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks.map((task) => [task.id, task.state, task.error?.message])));
    const reboot = taskOf(status, 'reboot').outputs ?? {};
    t.diagnostic(`reboot outputs: ${JSON.stringify(reboot)}; summary: ${taskOf(status, 'reboot').summary ?? ''}`);
    const firstWorker = String(taskOf(status, 'before').outputs?.worker);
    const secondWorker = String(taskOf(status, 'after').outputs?.worker);
    assert.notEqual(secondWorker, firstWorker, 'the task after the reboot ran in another worker process');
    // The identities the reboot saw are those of the workers that ran the shell tasks (pid@host/instance).
    assert.equal(String(reboot.workerBefore).split('@')[0], firstWorker);
    assert.equal(String(reboot.workerAfter).split('@')[0], secondWorker);
    assert.equal(reboot.proof, 'worker instance changed');
    assert.equal(reboot.host, 'hv2');
    assert.deepEqual(reboot.drained, { mode: 'none', stopped: [], forced: [], migrated: [] });
    assert.equal(typeof reboot.downForMs, 'number');
    assert.ok((reboot.downForMs as number) > 0);
    assert.deepEqual(reboot.rebootedBy, [path.join(PROJECT_ROOT, 'infra', 'lab', 'fleet-reboot.sh'), 'hv2']);
    assert.equal((reboot.verify as { exitCode?: number } | undefined)?.exitCode, 0);
    assert.match(taskOf(status, 'reboot').summary ?? '', /hv2 rebooted and back after [\d.]+s \(worker instance changed\); no drain/);
  });

  it('fails the task when the host that came back fails its verify command', { timeout: 240_000 }, async () => {
    const status = await engine.run(engine.compile(FAILED_VERIFY_DAG));
    const reboot = taskOf(status, 'reboot');
    assert.equal(status.state, 'failed');
    assert.equal(reboot.error?.type, 'HostVerifyFailed');
    assert.equal(reboot.error?.message, 'verify command failed after the reboot: exit code 3: libvirtd inactive');
  });

  it('carries on when the lab\'s Temporal server restarts while the host that came back is being verified', { timeout: 300_000 }, async (t) => {
    const runId = await engine.start(engine.compile(SLOW_VERIFY_DAG));
    const running = await untilTaskState(engine.client, runId, 'reboot', 'running', 60_000);
    const child = engine.client.workflow.getHandle(taskOf(running, 'reboot').childRunId ?? '');
    await until(async () => ((await child.describe()).raw.pendingActivities ?? []).some((activity) => activity.activityType?.name === 'shell' && activity.activityId === 'reboot.verify'), 120_000, 'the verify command to run on hv2');
    const stopped = await runLabScript('fleet-server.sh', ['stop'], lab.env);
    assert.equal(stopped.code, 0, stopped.stderr);
    // The old server's listeners must be gone before a new one binds the same ports.
    const port = lab.env.QUBINODE_LAB_TEMPORAL_PORT ?? '';
    await until(() => !execFileSync('ip', ['netns', 'exec', `qn${SLOT}-temporal`, 'ss', '-Hltn'], { encoding: 'utf8' }).includes(`:${port} `), 30_000, 'the stopped server to release its port');
    const started = await runLabScript('fleet-server.sh', ['start'], lab.env);
    assert.equal(started.code, 0, started.stderr);
    const status = await engine.wait(runId);
    t.diagnostic(`${status.state}: ${JSON.stringify(taskStates(status))}; ${taskOf(status, 'reboot').summary ?? taskOf(status, 'reboot').error?.message ?? ''}`);
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks.map((task) => [task.id, task.state, task.error?.message])));
    assert.equal(String(taskOf(status, 'reboot').outputs?.workerAfter).split('@')[0], String(taskOf(status, 'after').outputs?.worker));
  });

  it('fails the task of a host that does not come back within waitFor, saying when it was last seen', { timeout: 240_000 }, async (t) => {
    const status = await engine.run(engine.compile(LOST_DAG));
    const reboot = taskOf(status, 'reboot');
    t.diagnostic(`${status.state}: ${reboot.error?.type ?? ''} ${reboot.error?.message ?? ''}`);
    assert.equal(status.state, 'failed');
    assert.equal(reboot.state, 'failed');
    assert.equal(reboot.error?.type, 'HostDidNotComeBack');
    assert.match(reboot.error?.message ?? '', /^host hv1 did not come back within 20s \(last seen \d{4}-\d\d-\d\dT[\d:.]+Z\)$/);
  });
});
