// test-tier: full (not in npm run test:quick: a lab, a production server, real guests, apt or the model)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCrashLab, workerKillTrial, type CrashLab, type Marker } from './support/crash-lab';
import { until } from './support/waiting';

/**
 * Crash durability with real processes: a worker (workflows and activities in one process, as
 * `npm start` runs it) is killed with SIGKILL mid-run and started again; the DAG has no retry settings.
 */

function endsPerTask(markers: Marker[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const marker of markers) if (marker.event === 'end') counts[marker.task] = (counts[marker.task] ?? 0) + 1;
  return counts;
}

describe('a worker killed with SIGKILL mid-run', () => {
  let lab: CrashLab;
  before(async () => {
    lab = await startCrashLab();
  });
  after(async () => lab?.close());

  // Kill points spread over the chain and over a task (just started, mid-way, about to end or between
  // tasks); the offsets vary run to run.
  const killPoints = [
    { task: 't1', afterMs: 100 + (Date.now() % 400) },
    { task: 't3', afterMs: 800 + (Date.now() % 800) },
    { task: 't5', afterMs: 1_700 + (Date.now() % 600) },
  ];
  for (const [index, killWhen] of killPoints.entries()) {
    it(`completes the run without running any task twice (trial ${index + 1}: kill ${killWhen.afterMs} ms into ${killWhen.task})`, async (t) => {
      const trial = await workerKillTrial(lab, { tasks: 6, seconds: 2, killWhen });
      t.diagnostic(`lost task ${trial.lostTask ?? 'none'}; orphan stopped ${trial.orphanStoppedMs ?? '-'} ms after the kill; worker ready ${trial.restartReadyMs} ms after restart; run moving again ${trial.recoveryMs ?? '?'} ms after restart`);
      assert.equal(trial.status.state, 'succeeded', JSON.stringify(trial.status.tasks.map((task) => [task.id, task.state, task.error?.message])));
      assert.deepEqual(trial.rerunCompleted, [], 'no task that had completed before the kill ran again');
      const ends = endsPerTask(trial.markers);
      for (const task of ['t1', 't2', 't3', 't4', 't5', 't6']) assert.ok((ends[task] ?? 0) >= 1, `${task} finished`);
      for (const [task, count] of Object.entries(ends)) {
        // Only an attempt whose completion Temporal never heard of may show twice: it finished in the very instant of the kill.
        if (count > 1) assert.ok(!trial.completedBeforeKill.includes(task), `${task} had completed and ran again`);
      }
      if (trial.lostTask) {
        assert.notEqual(trial.orphanStoppedMs, undefined, 'the watchdog stopped the killed worker\'s shell');
        assert.equal(trial.orphanAliveWhenWorkerReady, false, 'the orphaned shell was gone before any retry could start');
        const attempts = trial.markers.filter((m) => m.task === trial.lostTask && m.event === 'start');
        const orphanEnd = trial.markers.find((m) => m.task === trial.lostTask && m.event === 'end' && m.pid === trial.orphanPid);
        if (attempts.length > 1 && orphanEnd) assert.ok((attempts[1] as Marker).atMs > orphanEnd.atMs, 'the retry never overlapped the first attempt');
        const task = trial.status.tasks.find((candidate) => candidate.id === trial.lostTask);
        assert.equal(task?.attempt, 1, 'the lost attempt does not count against the task');
      }
    });
  }
});

describe('npm start killed with SIGKILL mid-run and started again', () => {
  let lab: CrashLab;
  before(async () => {
    lab = await startCrashLab();
  });
  after(async () => lab?.close());

  it('completes the run, no completed task running again', async (t) => {
    const trial = await workerKillTrial(lab, { tasks: 4, seconds: 2, killWhen: { task: 't2', afterMs: 500 + (Date.now() % 1_000) }, product: true });
    t.diagnostic(`lost task ${trial.lostTask ?? 'none'}; npm start up again after ${trial.restartReadyMs} ms; run moving ${trial.recoveryMs ?? '?'} ms after the restart`);
    assert.equal(trial.status.state, 'succeeded', JSON.stringify(trial.status.tasks.map((task) => [task.id, task.state, task.error?.message])));
    assert.deepEqual(trial.rerunCompleted, []);
    assert.equal(trial.orphanAliveWhenWorkerReady, false);
    for (const task of ['t1', 't2', 't3', 't4']) assert.ok((endsPerTask(trial.markers)[task] ?? 0) >= 1, `${task} finished`);
  });
});

describe('a worker that never comes back', () => {
  let lab: CrashLab;
  before(async () => {
    lab = await startCrashLab();
  });
  after(async () => lab?.close());

  it('has its task run by another worker after the heartbeat timeout, without counting it against the task', async (t) => {
    const first = await lab.startWorker();
    const runId = await lab.startChain(2, 3);
    await until(() => lab.markers().some((m) => m.task === 't1' && m.event === 'start'), 30_000, 't1 to start');
    const orphan = lab.markers().find((m) => m.task === 't1') as Marker;
    await lab.killWorker(first);
    const killedAt = Date.now();
    // A worker elsewhere: it has no record of the dead worker's attempts, so only the heartbeat timeout frees the task.
    const other = await lab.startWorker({ dataDir: lab.otherHostDir });
    const status = await lab.waitForRun(runId, 150_000);
    await lab.killWorker(other);
    const retried = lab.markers().filter((m) => m.task === 't1' && m.event === 'start')[1];
    t.diagnostic(`t1 ran again ${retried ? retried.atMs - killedAt : '?'} ms after its worker was killed`);
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks.map((task) => [task.id, task.state, task.error?.message])));
    assert.ok(retried, 't1 ran again on the other worker');
    assert.equal(lab.markers().some((m) => m.event === 'end' && m.pid === orphan.pid), false, 'the dead worker\'s shell was stopped by its watchdog, not left to finish');
    assert.equal(status.tasks.find((task) => task.id === 't1')?.attempt, 1);
  });
});

describe('the Temporal server killed with SIGKILL mid-run', () => {
  let lab: CrashLab;
  before(async () => {
    lab = await startCrashLab({ ownServer: true });
  });
  after(async () => lab?.close());

  it('completes the run on the same database after a restart, running nothing twice', async () => {
    const worker = await lab.startWorker();
    const runId = await lab.startChain(4, 2);
    await until(() => lab.markers().some((m) => m.task === 't2' && m.event === 'start'), 30_000, 't2 to start');
    await lab.killServer();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await lab.startServer();
    const status = await lab.waitForRun(runId);
    await lab.killWorker(worker);
    assert.equal(status.state, 'succeeded');
    assert.deepEqual(endsPerTask(lab.markers()), { t1: 1, t2: 1, t3: 1, t4: 1 });
    assert.equal(lab.markers().filter((m) => m.event === 'start').length, 4, 'no task started twice');
  });
});
