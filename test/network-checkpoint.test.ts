import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createNetworkCheckpointActivities } from '../activities/actions/network-checkpoint';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { processStartTicks } from '../activities/platform/attempt-ledger';
import { CHECKPOINT_DIR_NAME, CheckpointStore, type CheckpointOutcome, type CheckpointRecord } from '../activities/actions/network-checkpoint-store';
import { resumeRevertTimers, spawnRevertTimer } from '../activities/actions/network-revert-timer';
import { until } from './support/waiting';

/**
 * The host side of a network checkpoint, with the real detached revert timer process (no Temporal,
 * no lab): the timer reverts what was not confirmed, never what was, and exactly one of the two wins
 * when they meet at the deadline.
 */

const root = mkdtempSync(path.join(tmpdir(), 'qubinode-netcp-'));
let counter = 0;
const timers: number[] = [];

after(() => {
  // Any timer a failed assertion left behind goes with the test file.
  for (const pid of timers) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

function record(store: CheckpointStore, overrides: Partial<CheckpointRecord> & { revert: string[][] }): CheckpointRecord {
  counter += 1;
  const confirmWithinMs = overrides.confirmWithinMs ?? 1_000;
  const armedAt = Date.now();
  return {
    id: `action/test/run-${counter}.change/${process.pid}`,
    mode: 'timer',
    armedAt: new Date(armedAt).toISOString(),
    deadlineAt: new Date(armedAt + confirmWithinMs).toISOString(),
    confirmWithinMs,
    logPath: path.join(store.directory, 'task.log'),
    ...overrides,
  };
}

function armWithTimer(store: CheckpointStore, armed: CheckpointRecord): number {
  store.arm(armed);
  const pid = spawnRevertTimer(store, armed.id);
  store.recordTimer(armed.id, pid);
  timers.push(pid);
  return pid;
}

async function outcomeOf(store: CheckpointStore, id: string, withinMs = 20_000): Promise<CheckpointOutcome> {
  let outcome: CheckpointOutcome | undefined;
  await until(
    () => {
      const state = store.read(id);
      if (state.state === 'settled') outcome = state.outcome;
      return outcome !== undefined;
    },
    withinMs,
    `checkpoint ${id} to settle`,
  );
  return outcome as CheckpointOutcome;
}

const alive = (pid: number): boolean => processStartTicks(pid) !== undefined;

function newStore(): CheckpointStore {
  return new CheckpointStore(mkdtempSync(path.join(root, 'store-')));
}

describe('the revert timer of a network checkpoint', { timeout: 120_000 }, () => {
  it('reverts a change nobody confirmed once confirmWithin has passed, running every revert command whatever each exits with', async () => {
    const store = newStore();
    const marker = path.join(store.directory, 'reverted');
    const armed = record(store, { revert: [['touch', marker], ['false'], ['sh', '-c', 'exit 3']] });
    const pid = armWithTimer(store, armed);
    assert.ok(store.isArmed(armed.id));
    const outcome = await outcomeOf(store, armed.id);
    assert.equal(outcome.state, 'reverted');
    assert.ok(outcome.state === 'reverted' && outcome.reason === 'timer');
    assert.deepEqual(outcome.state === 'reverted' ? outcome.revertSteps.map((step) => step.exitCode) : [], [0, 1, 3]);
    assert.ok(existsSync(marker), 'the first revert command ran');
    assert.match(readFileSync(armed.logPath as string, 'utf8'), /--- .* touch .*\n--- exit 0/);
    await until(() => !alive(pid), 10_000, 'the timer to exit after reverting');
    assert.equal(store.claim(armed.id, 'confirm'), false, 'a reverted change cannot be confirmed afterwards');
  });

  it('never reverts a confirmed change: the timer sees it disarmed and exits without running a revert command', async () => {
    const store = newStore();
    const marker = path.join(store.directory, 'reverted');
    const armed = record(store, { confirmWithinMs: 1_500, revert: [['touch', marker]] });
    const pid = armWithTimer(store, armed);
    assert.equal(store.claim(armed.id, 'confirm'), true);
    store.settle(armed.id, { state: 'confirmed', at: new Date().toISOString() });
    assert.equal(store.claim(armed.id, 'confirm'), false, 'confirming twice is a no-op, not a second win');
    await until(() => !alive(pid), 10_000, 'the disarmed timer to exit');
    // Past the deadline, and then some: nothing reverted.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(armed.deadlineAt) + 500 - Date.now())));
    assert.equal(existsSync(marker), false);
    assert.equal(store.read(armed.id).state, 'settled');
    assert.deepEqual((store.read(armed.id) as { outcome: CheckpointOutcome }).outcome.state, 'confirmed');
  });

  it('lets exactly one of confirm and timer win when they meet at the deadline, and the outcome says which', async () => {
    // Rounds side by side, each confirming at another moment around its timer's deadline (from 120 ms before to 100 ms after).
    const rounds = Array.from({ length: 12 }, (_, round) => round);
    const results = await Promise.all(
      rounds.map(async (round) => {
        const store = newStore();
        const marker = path.join(store.directory, 'reverted');
        // Long enough for the timer process to be up and waiting at its deadline.
        const armed = record(store, { confirmWithinMs: 10_000, revert: [['touch', marker]] });
        armWithTimer(store, armed);
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(armed.deadlineAt) - 120 + round * 20 - Date.now())));
        const confirmed = store.claim(armed.id, 'confirm');
        if (confirmed) store.settle(armed.id, { state: 'confirmed', at: new Date().toISOString() });
        const outcome = await outcomeOf(store, armed.id);
        // Give a losing timer every chance to misbehave before looking.
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.equal(outcome.state, confirmed ? 'confirmed' : 'reverted', `round ${round}`);
        assert.equal(existsSync(marker), !confirmed, `round ${round}: revert ran ${existsSync(marker)}, confirm won ${confirmed}`);
        return outcome.state;
      }),
    );
    if (process.env.QUBINODE_TEST_VERBOSE) console.log('race winners:', results.join(' '));
    assert.equal(results.length, 12);
  });

  it('runs in a session of its own and outlives the process that armed it, even killed with SIGKILL', async () => {
    const store = newStore();
    const marker = path.join(store.directory, 'reverted');
    const armed = record(store, { confirmWithinMs: 2_000, revert: [['touch', marker]] });
    // A stand-in worker: arms the checkpoint, prints the timer's pid and waits to be killed. Like bin/qubinode.js run from
    // sources, it loads TypeScript by require('tsx/cjs'), with no loader flag or NODE_OPTIONS for the timer to inherit.
    const script = `
      require(${JSON.stringify(require.resolve('tsx/cjs'))});
      const { CheckpointStore } = require(${JSON.stringify(path.resolve(__dirname, '../activities/actions/network-checkpoint-store'))});
      const { spawnRevertTimer } = require(${JSON.stringify(path.resolve(__dirname, '../activities/actions/network-revert-timer'))});
      const store = new CheckpointStore(process.argv[1]);
      const armed = JSON.parse(process.argv[2]);
      store.arm(armed);
      const pid = spawnRevertTimer(store, armed.id);
      store.recordTimer(armed.id, pid);
      console.log(pid);
      setInterval(() => {}, 1000);
    `;
    const worker = spawn(process.execPath, ['-e', script, store.directory, JSON.stringify(armed)], {
      detached: true,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    let output = '';
    worker.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await until(() => /^\d+\n/.test(output), 30_000, 'the stand-in worker to arm a checkpoint');
    const timerPid = Number(output.trim());
    timers.push(timerPid);
    const stat = readFileSync(`/proc/${timerPid}/stat`, 'utf8').slice(readFileSync(`/proc/${timerPid}/stat`, 'utf8').lastIndexOf(')') + 2).split(' ');
    assert.equal(Number(stat[3]), timerPid, 'the timer leads a session of its own (setsid)');
    assert.notEqual(Number(stat[2]), worker.pid, 'the timer is not in the worker\'s process group');
    process.kill(-(worker.pid as number), 'SIGKILL');
    await until(() => worker.exitCode !== null || worker.signalCode !== null, 10_000, 'the stand-in worker to die');
    assert.ok(alive(timerPid), 'the timer survived its worker');
    const outcome = await outcomeOf(store, armed.id);
    assert.equal(outcome.state, 'reverted');
    assert.ok(existsSync(marker));
    const environ = readdirSync(store.directory);
    assert.ok(environ.some((name) => name.endsWith('.claim-revert')), environ.join(' '));
  });

  it('reverts before its deadline when asked to, with the reason it was given', async () => {
    const store = newStore();
    const marker = path.join(store.directory, 'reverted');
    const armed = record(store, { confirmWithinMs: 60_000, revert: [['touch', marker]] });
    armWithTimer(store, armed);
    store.requestRevert(armed.id, { reason: 'apply-failed', detail: 'apply command 2 (false) exited 1' });
    const outcome = await outcomeOf(store, armed.id, 10_000);
    assert.ok(outcome.state === 'reverted');
    assert.equal(outcome.reason, 'apply-failed');
    assert.equal(outcome.detail, 'apply command 2 (false) exited 1');
    assert.ok(existsSync(marker));
  });

  it('runs revert commands as argv, never through a shell: separators and substitutions in arguments stay data', async () => {
    const store = newStore();
    const hostile = `${path.join(store.directory, 'a')}; touch ${path.join(store.directory, 'injected')} $(touch ${path.join(store.directory, 'substituted')})`;
    const armed = record(store, { confirmWithinMs: 200, revert: [['touch', hostile], ['touch', '--', path.join(store.directory, '--not-an-option')]] });
    armWithTimer(store, armed);
    const outcome = await outcomeOf(store, armed.id);
    assert.ok(outcome.state === 'reverted');
    assert.deepEqual(outcome.revertSteps.map((step) => step.exitCode), [1, 0], 'touch of a path under a directory that does not exist fails, as data');
    assert.equal(existsSync(path.join(store.directory, 'injected')), false);
    assert.equal(existsSync(path.join(store.directory, 'substituted')), false);
    assert.ok(existsSync(path.join(store.directory, '--not-an-option')));
  });

  it('gives a checkpoint found armed without its timer (the host lost every process) a new timer, which reverts it at once when past the deadline', async () => {
    const store = newStore();
    const marker = path.join(store.directory, 'reverted');
    const armed = record(store, { confirmWithinMs: 2_500, revert: [['touch', marker]] });
    const pid = armWithTimer(store, armed);
    process.kill(pid, 'SIGKILL');
    await until(() => !alive(pid), 10_000, 'the timer to die');
    const settledElsewhere = record(store, { revert: [['true']] });
    store.arm(settledElsewhere);
    assert.ok(store.claim(settledElsewhere.id, 'confirm'));
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(armed.deadlineAt) + 300 - Date.now())));
    assert.ok(store.isArmed(armed.id) && !existsSync(marker), 'with its timer dead, nothing reverted it');
    assert.deepEqual(resumeRevertTimers(store), [armed.id], 'only the armed checkpoint without a timer is resumed');
    const outcome = await outcomeOf(store, armed.id);
    assert.ok(outcome.state === 'reverted' && outcome.reason === 'timer');
    assert.ok(existsSync(marker));
    assert.deepEqual(resumeRevertTimers(store), [], 'nothing is left armed');
  });

  it('confirms, when the host reports back before the deadline, a change it applied in full (the worker reached Temporal again)', async () => {
    const dataDir = mkdtempSync(path.join(root, 'data-'));
    const activities = createNetworkCheckpointActivities({ dataDir, logRoot: path.join(dataDir, 'logs') });
    const marker = path.join(dataDir, 'reverted');
    const inv = { runId: 'dag/test/report-1', dagId: 'test', taskId: 'change', with: { apply: [['true']], revert: [['touch', marker]], checkpoint: 'timer' } };
    const ref = { checkpointId: `report-confirm-${process.pid}`, confirmWithinMs: 8_000 };
    const applied = (await new MockActivityEnvironment().run(activities.networkChangeApply, inv, ref)) as Awaited<ReturnType<typeof activities.networkChangeApply>>;
    assert.equal(applied.state, 'applied');
    const report = (await new MockActivityEnvironment().run(activities.networkChangeReport, inv, ref)) as Awaited<ReturnType<typeof activities.networkChangeReport>>;
    assert.equal(report.state === 'settled' ? report.outcome.state : report.state, 'confirmed');
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, ref.confirmWithinMs + 500 - (Date.now() - Date.parse(applied.state === 'applied' ? applied.armedAt : '')))));
    assert.equal(existsSync(marker), false, 'a change confirmed by the report was reverted');
  });

  it('reverts at once, as late, a change whose host reports back only at its deadline', async () => {
    const dataDir = mkdtempSync(path.join(root, 'data-'));
    const activities = createNetworkCheckpointActivities({ dataDir, logRoot: path.join(dataDir, 'logs') });
    const marker = path.join(dataDir, 'reverted');
    const inv = { runId: 'dag/test/report-2', dagId: 'test', taskId: 'change', with: { apply: [['true']], revert: [['touch', marker]], checkpoint: 'timer' } };
    const ref = { checkpointId: `report-late-${process.pid}`, confirmWithinMs: 30_000 };
    await new MockActivityEnvironment().run(activities.networkChangeApply, inv, ref);
    // The host comes back with less than a second of confirmWithin left: too late to confirm.
    const store = new CheckpointStore(path.join(dataDir, CHECKPOINT_DIR_NAME));
    const state = store.read(ref.checkpointId);
    assert.equal(state.state, 'armed');
    const record = state.state === 'armed' ? state.record : undefined;
    assert.ok(record);
    writeFileSync(path.join(store.directory, `${CheckpointStore.key(record.id)}.json`), JSON.stringify({ ...record, deadlineAt: new Date(Date.now() + 500).toISOString() }));
    const report = (await new MockActivityEnvironment().run(activities.networkChangeReport, inv, ref)) as Awaited<ReturnType<typeof activities.networkChangeReport>>;
    assert.ok(report.state === 'settled' && report.outcome.state === 'reverted');
    assert.ok(report.outcome.state === 'reverted' && (report.outcome.reason === 'late' || report.outcome.reason === 'timer'));
    assert.ok(existsSync(marker));
  });

  it('refuses to arm the same checkpoint twice, so two timers never race one change', () => {
    const store = newStore();
    const armed = record(store, { revert: [['true']] });
    store.arm(armed);
    assert.throws(() => store.arm(armed), /was armed before/);
  });

  it('keeps checkpoint files under a hashed name, whatever the id holds', () => {
    const store = newStore();
    const armed = record(store, { id: '../../etc/passwd/%2e%2e/x', revert: [['true']] });
    store.arm(armed);
    for (const name of readdirSync(store.directory)) assert.match(name, /^[0-9a-f]{32}\.(json|armed)$/);
  });
});
