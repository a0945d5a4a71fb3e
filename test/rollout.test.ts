import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { abortRun, decideApproval, rolloutProgress } from '../client/run-control';
import { listRuns } from '../client/runs';
import type { RolloutProgress } from '../workflows/rollback-status';
import { startTestEngine, type TestEngine } from './support/engine';
import { taskOf, until, untilTaskState } from './support/waiting';

// Each "hypervisor" is a worker polling its own task queue on this host, as a real per-host worker would.
const HOSTS = ['hv1', 'hv2', 'hv3', 'hv4'];

const journalLines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

/** The per-target step: install (undone by its compensation), then verify, which fails on `fail_on`. */
const STEP_DAG = `
id: host-update
# The tests of this file run at once on the same four queues; one job per host would make them take turns.
hosts: { exclusive: false }
params:
  target: { type: string }
  queue: { type: string }
  journal: { type: string, required: true }
  fail_on: { type: string, default: none }
  hold: { type: string, default: "0.3" }
tasks:
  - id: install
    uses: shell
    runsOn: \${{ params.queue }}
    with:
      script: |
        echo "start \${{ params.target }} $(date +%s%N)" >> "\${{ params.journal }}"
        sleep \${{ params.hold }}
        echo "end \${{ params.target }} $(date +%s%N)" >> "\${{ params.journal }}"
    compensate:
      uses: shell
      with:
        script: echo "undo \${{ params.target }}" >> "\${{ params.journal }}"
  - id: verify
    uses: shell
    needs: install
    runsOn: \${{ params.queue }}
    with:
      script: test "\${{ params.target }}" != "\${{ params.fail_on }}"
`;

function rolloutDag(queues: string[], rolloutWith: string): string {
  return `
id: fleet
tasks:
  - id: roll
    uses: rollout
    with:
      dag: host-update
      targets: ${JSON.stringify(queues.map((queue, index) => ({ name: HOSTS[index], queue })))}
${rolloutWith
  .trim()
  .split('\n')
  .map((line) => `      ${line}`)
  .join('\n')}
`;
}

function maxOverlap(lines: string[]): number {
  const events = lines
    .map((line) => line.split(' '))
    .filter(([kind]) => kind === 'start' || kind === 'end')
    .map(([kind, , stamp]) => ({ delta: kind === 'start' ? 1 : -1, at: BigInt(stamp ?? '0') }))
    .sort((a, b) => (a.at === b.at ? a.delta - b.delta : a.at < b.at ? -1 : 1));
  let running = 0;
  let most = 0;
  for (const event of events) {
    running += event.delta;
    most = Math.max(most, running);
  }
  return most;
}

describe('rollouts across hypervisor queues', { concurrency: true }, () => {
  let engine: TestEngine;
  let dir: string;
  let queues: string[];
  let health: Server;
  let healthUrl: string;
  before(async () => {
    engine = await startTestEngine();
    dir = mkdtempSync(path.join(tmpdir(), 'qubinode-rollout-'));
    queues = HOSTS.map((host) => `${engine.taskQueue}-${host}`);
    await Promise.all(queues.map((queue) => engine.addWorker(queue, false)));
    // Health endpoint of the "hosts": hv1 reports unhealthy.
    health = createServer((request, response) => response.writeHead(request.url?.endsWith('/hv1') ? 503 : 200).end('ok'));
    await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
    healthUrl = `http://127.0.0.1:${(health.address() as AddressInfo).port}/health`;
  });
  after(async () => {
    health.close();
    await engine.close();
  });

  const compile = (rolloutWith: string): ReturnType<TestEngine['compile']> => engine.compile(rolloutDag(queues, rolloutWith), { 'host-update': STEP_DAG });

  it('canary: a failure in step 2 rolls back the changed targets in reverse and leaves the rest untouched', async () => {
    const journal = path.join(dir, 'canary.log');
    const status = await engine.run(compile(`strategy: canary\nsteps: [1, "50%", "100%"]\nparams: { journal: "${journal}", fail_on: hv2 }`));
    assert.equal(status.state, 'failed');
    const roll = taskOf(status, 'roll');
    assert.equal(roll.error?.type, 'RolloutHalted');
    assert.match(roll.error?.message ?? '', /failure-threshold.*rolled back hv2, hv1; untouched hv3, hv4/);
    const lines = journalLines(journal).map((line) => line.split(' ').slice(0, 2).join(' '));
    assert.deepEqual(lines, ['start hv1', 'end hv1', 'start hv2', 'end hv2', 'undo hv2', 'undo hv1']);
    const progress = await rolloutProgress(engine.client, roll.childRunId ?? '');
    assert.equal(progress.state, 'rolled-back');
    assert.deepEqual(progress.rollback?.order, ['hv2', 'hv1']);
    assert.equal(progress.rollback?.trigger, 'failure-threshold');
    assert.deepEqual(progress.targets.map((target) => [target.name, target.batch, target.state]), [['hv1', 1, 'rolled-back'], ['hv2', 2, 'rolled-back'], ['hv3', 3, 'pending'], ['hv4', 3, 'pending']]);
    // The compensation ran where the install ran: on the target's own queue.
    assert.equal(progress.targets[1]?.compensations?.[0]?.runsOn, queues[1]);
  });

  it('canary: a failing health check after the first batch halts before anything else changes', async () => {
    const journal = path.join(dir, 'health.log');
    const status = await engine.run(
      compile(`strategy: canary\nsteps: [1, "100%"]\nparams: { journal: "${journal}" }\nanalysis:\n  checks:\n    - uses: http.check\n      with: { url: "${healthUrl}/{target}", timeout: 1s, interval: 200ms }`),
    );
    const progress = await rolloutProgress(engine.client, taskOf(status, 'roll').childRunId ?? '');
    assert.equal(progress.rollback?.trigger, 'health-check');
    assert.deepEqual(progress.analyses.map((entry) => [entry.batch, entry.passed]), [[1, false]]);
    assert.deepEqual(journalLines(journal).map((line) => line.split(' ').slice(0, 2).join(' ')), ['start hv1', 'end hv1', 'undo hv1']);
  });

  it('rolling: never more targets changing at once than maxUnavailable', async () => {
    const journal = path.join(dir, 'rolling.log');
    const status = await engine.run(compile(`strategy: rolling\nbatchSize: 4\nmaxUnavailable: 2\nparams: { journal: "${journal}", hold: "3" }`));
    assert.equal(status.state, 'succeeded', JSON.stringify(taskOf(status, 'roll').error));
    assert.deepEqual(taskOf(status, 'roll').outputs?.updated, HOSTS);
    assert.equal(journalLines(journal).filter((line) => line.startsWith('start')).length, 4);
    assert.equal(maxOverlap(journalLines(journal)), 2);
  });

  it('blue-green: switches after the green side is ready and keeps blue for the rollback window', async () => {
    const journal = path.join(dir, 'bg.log');
    const status = await engine.run(
      compile(`strategy: blue-green\nparams: { journal: "${journal}" }\nswitch: { uses: shell, with: { script: "echo switch >> ${journal}" } }\nswitchBack: { uses: shell, with: { script: "echo switch-back >> ${journal}" } }\nrollbackWindow: 1s`),
    );
    assert.equal(status.state, 'succeeded');
    const progress = await rolloutProgress(engine.client, taskOf(status, 'roll').childRunId ?? '');
    assert.equal(progress.phase, 'released');
    assert.deepEqual(journalLines(journal).filter((line) => !line.startsWith('start') && !line.startsWith('end')), ['switch']);
  });

  it('blue-green: an abort inside the rollback window switches back and undoes the green side', async () => {
    const journal = path.join(dir, 'bg-abort.log');
    const runId = await engine.start(
      compile(`strategy: blue-green\nparams: { journal: "${journal}" }\nswitch: { uses: shell, with: { script: "echo switch >> ${journal}" } }\nswitchBack: { uses: shell, with: { script: "echo switch-back >> ${journal}" } }\nrollbackWindow: 60s`),
    );
    const running = await untilTaskState(engine.client, runId, 'roll', 'running');
    let rolloutId = taskOf(running, 'roll').childRunId ?? '';
    await until(
      async () => {
        rolloutId = taskOf(await untilTaskState(engine.client, runId, 'roll', 'running'), 'roll').childRunId ?? '';
        const progress: RolloutProgress | undefined = rolloutId ? await rolloutProgress(engine.client, rolloutId).catch(() => undefined) : undefined;
        return progress?.phase === 'window';
      },
      20_000,
      'the rollback window',
    );
    await abortRun(engine.client, rolloutId, { by: 'erin', reason: 'latency up' });
    const status = await engine.wait(runId);
    assert.equal(status.state, 'failed');
    const progress = await rolloutProgress(engine.client, rolloutId);
    assert.equal(progress.rollback?.trigger, 'manual-abort');
    assert.match(progress.rollback?.reason ?? '', /aborted by erin: latency up \(within the rollback window\)/);
    const tail = journalLines(journal).filter((line) => !line.startsWith('start') && !line.startsWith('end'));
    assert.equal(tail[0], 'switch');
    assert.equal(tail[1], 'switch-back');
    // Green is every target, changed side by side in list order: undone last-first.
    assert.deepEqual(tail.slice(2), ['undo hv4', 'undo hv3', 'undo hv2', 'undo hv1']);
  });

  it('canary: waits for an approval between steps, shown on the parent run, and decided there', async () => {
    const journal = path.join(dir, 'gated.log');
    const runId = await engine.start(compile(`strategy: canary\nsteps: [1]\napproveBetween: true\napprovers: [ops]\nparams: { journal: "${journal}" }`));
    await until(async () => (await listRuns(engine.client, { status: 'waiting', limit: 500 })).some((run) => run.runId === runId), 60_000, 'the parent run to show as waiting');
    await untilTaskState(engine.client, runId, 'roll', 'waiting');
    assert.deepEqual(journalLines(journal).filter((line) => line.startsWith('end')).map((line) => line.split(' ')[1]), ['hv1'], 'only the canary changed before the approval');
    await assert.rejects(decideApproval(engine.client, runId, { taskId: 'roll', approve: true, by: 'mallory' }), /"mallory" is not an approver/);
    await decideApproval(engine.client, runId, { taskId: 'roll', approve: true, by: 'ops', comment: 'canary healthy' });
    const status = await engine.wait(runId);
    assert.equal(status.state, 'succeeded');
    const progress = await rolloutProgress(engine.client, taskOf(status, 'roll').childRunId ?? '');
    assert.deepEqual(progress.approvals.map((entry) => [entry.state, entry.by, entry.comment]), [['approved', 'ops', 'canary healthy']]);
    assert.equal(progress.done, 4);
  });

  it('rolling: a step that runs past stepTimeout is cancelled and rolls back with trigger step-timeout', async () => {
    const journal = path.join(dir, 'slow.log');
    const status = await engine.run(compile(`strategy: rolling\nbatchSize: 1\nstepTimeout: 1s\nparams: { journal: "${journal}", hold: "20" }`));
    assert.equal(status.state, 'failed');
    const progress = await rolloutProgress(engine.client, taskOf(status, 'roll').childRunId ?? '');
    assert.equal(progress.rollback?.trigger, 'step-timeout');
    assert.deepEqual(progress.targets.map((target) => target.state), ['rolled-back', 'pending', 'pending', 'pending']);
    assert.match(progress.targets[0]?.error ?? '', /step timed out after 1s/);
    // The step's state was unknown (cut short), so every compensation of the step ran for hv1.
    assert.ok(journalLines(journal).includes('undo hv1'));
  });

  it('rolling: halts on the error rate of one batch even under a tolerant failure threshold', async () => {
    const journal = path.join(dir, 'rate.log');
    const status = await engine.run(compile(`strategy: rolling\nbatchSize: 2\nmaxUnavailable: 2\nfailureThreshold: 3\nmaxErrorRate: "40%"\nparams: { journal: "${journal}", fail_on: hv1 }`));
    const progress = await rolloutProgress(engine.client, taskOf(status, 'roll').childRunId ?? '');
    assert.equal(progress.rollback?.trigger, 'error-rate');
    assert.match(progress.rollback?.reason ?? '', /1 of 2 targets in batch 1 failed/);
    assert.deepEqual(progress.targets.map((target) => target.state), ['rolled-back', 'rolled-back', 'pending', 'pending']);
  });

  it('aborting the parent run cancels the rollout, which rolls its changed targets back first', async () => {
    const journal = path.join(dir, 'parent-abort.log');
    const runId = await engine.start(compile(`strategy: rolling\nbatchSize: 1\nparams: { journal: "${journal}", hold: "30" }`));
    await until(() => journalLines(journal).some((line) => line.startsWith('start hv1')), 20_000, 'hv1 to start');
    await abortRun(engine.client, runId, { by: 'frank' });
    const status = await engine.wait(runId);
    assert.equal(status.state, 'cancelled');
    assert.equal(status.reason, 'aborted by frank');
    assert.equal(taskOf(status, 'roll').state, 'cancelled');
    // A cancelled rollout has no result; a query on the closed workflow replays it to its last progress.
    const progress = await engine.client.workflow.getHandle(taskOf(status, 'roll').childRunId ?? '').query<RolloutProgress>('rollout');
    assert.equal(progress.rollback?.trigger, 'manual-abort');
    assert.deepEqual(progress.targets.map((target) => target.state), ['rolled-back', 'pending', 'pending', 'pending']);
    assert.ok(journalLines(journal).includes('undo hv1'));
    assert.equal(journalLines(journal).filter((line) => line.startsWith('start')).length, 1);
  });

  it('canary: a diag check outside its threshold halts the rollout (health-check)', async () => {
    const journal = path.join(dir, 'diag.log');
    const status = await engine.run(
      compile(`strategy: canary\nsteps: [1]\nparams: { journal: "${journal}" }\nanalysis:\n  checks:\n    - uses: diag.resource_usage\n      thresholds: { cpuCount: { min: 1 }, memory.usedPercent: { max: 0.001 } }`),
    );
    const progress = await rolloutProgress(engine.client, taskOf(status, 'roll').childRunId ?? '');
    assert.equal(progress.rollback?.trigger, 'health-check');
    assert.match(progress.analyses[0]?.firstFailure ?? '', /hv1 diag\.resource_usage: threshold: memory\.usedPercent is [\d.]+, above 0\.001/);
    assert.deepEqual(progress.targets.map((target) => target.state), ['rolled-back', 'pending', 'pending', 'pending']);
  });
});
