// test-tier: full (not in npm run test:quick: a lab, a production server, real guests, apt or the model)
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { taskOf } from './support/waiting';
import { fleetLabUnavailable } from './support/fleet-lab';
import { hasUpdateMarker, overlaps, readJournal, type JournalLine } from './support/fleet-trial-records';
import { canaryTrial, cutTrial, goneTrial, lockTrial, rebootTrial, startTrialsLab, type TrialsLab } from './support/fleet-trials';

/**
 * The hard days of a fleet, tried in the fleet lab (slow tier, root only; lab slot 4): hosts hv1..hv3
 * as network namespaces with a worker each, against the lab's own Temporal server. Nothing is mocked.
 * Each trial is judged from the hosts' side (journals and markers the tools leave in each host's data
 * directory) as well as from the run's status and history. bench/fleet-trials.ts prints their times,
 * and also tries hv2 losing every process mid-rollout and coming back (kept out of this file for time;
 * the reboot and gone-for-good trials here cover a host going away). The last trial leaves hv2 without
 * a worker: keep it last.
 */

const events = (journal: readonly JournalLine[]): string[] => journal.map((line) => line.event);

describe('the hard days of a fleet, in the fleet lab', { skip: fleetLabUnavailable() ?? false, timeout: 600_000 }, () => {
  let trials: TrialsLab;
  before(
    async () => {
      trials = await startTrialsLab();
    },
    { timeout: 300_000 },
  );
  after(async () => trials?.close(), { timeout: 120_000 });

  it('rolls back hv2 then hv1 when hv2\'s health check fails in a canary rollout, and never touches hv3', { timeout: 180_000 }, async (t) => {
    const trial = await canaryTrial(trials);
    const { lab } = trials;
    t.diagnostic(`canary trial: ${trial.totalMs} ms; ${trial.progress.rollback?.reason ?? ''}`);
    assert.equal(trial.status.state, 'failed');
    assert.equal(taskOf(trial.status, 'roll').error?.type, 'RolloutHalted');
    assert.equal(trial.progress.rollback?.trigger, 'health-check');
    assert.deepEqual(trial.progress.rollback?.order, ['hv2', 'hv1']);
    assert.deepEqual(
      trial.progress.targets.map((target) => [target.name, target.state]),
      [
        ['hv1', 'rolled-back'],
        ['hv2', 'rolled-back'],
        ['hv3', 'pending'],
      ],
    );
    // From the hosts themselves: the update ran on hv1 and hv2 and was undone there, hv3 saw nothing.
    const hv1 = readJournal(lab.host('hv1'), 'canary');
    const hv2 = readJournal(lab.host('hv2'), 'canary');
    assert.deepEqual(events(hv1), ['start', 'apply', 'undo']);
    assert.deepEqual(events(hv2), ['start', 'apply', 'undo']);
    assert.equal(hasUpdateMarker(lab.host('hv1'), 'canary'), false, 'hv1\'s update marker was removed by its rollback');
    assert.equal(hasUpdateMarker(lab.host('hv2'), 'canary'), false, 'hv2\'s update marker was removed by its rollback');
    assert.deepEqual(readJournal(lab.host('hv3'), 'canary'), [], 'no tool ran on hv3');
    assert.equal(hasUpdateMarker(lab.host('hv3'), 'canary'), false);
    const undo = (journal: JournalLine[]): number => journal.find((line) => line.event === 'undo')?.atMs ?? NaN;
    assert.ok(undo(hv2) <= undo(hv1), `hv2 was rolled back before hv1 (hv2 at ${undo(hv2)}, hv1 at ${undo(hv1)})`);
    assert.ok((hv2.find((line) => line.event === 'apply')?.atMs ?? Infinity) <= undo(hv2), 'hv2 was updated before its rollback');
  });

  it('stops hv3\'s old tool before its retry starts when hv3 is cut off past the heartbeat timeout, and completes the run', { timeout: 300_000 }, async (t) => {
    const trial = await cutTrial(trials);
    const journal = readJournal(trials.lab.host('hv3'), 'cut');
    t.diagnostic(`cut trial: lost ${trial.detectMs ?? '?'} ms after the cut; old copy stopped by ${trial.stoppedBy}; ran again ${trial.recoverMs ?? '?'} ms after the mend; run ${trial.totalMs} ms; journal ${JSON.stringify(journal)}`);
    assert.equal(trial.status.state, 'succeeded', JSON.stringify(trial.status.tasks.map((task) => [task.id, task.state, task.error?.message])));
    // The history: the first attempt ended by its heartbeat timeout while hv3 was cut off, the second completed.
    assert.deepEqual(
      trial.attempts.map((attempt) => attempt.ending),
      ['timed-out:TIMEOUT_TYPE_HEARTBEAT', 'completed'],
    );
    const [lost, retry] = trial.attempts;
    assert.ok((lost?.endedAtMs ?? Infinity) < trial.mendAtMs, 'Temporal declared the attempt lost while hv3 was still cut off');
    assert.ok((retry?.startedAtMs ?? 0) >= (lost?.endedAtMs ?? Infinity), 'the retry started after the first attempt was declared lost');
    // The host: two copies, never alive together, and the first never finished its work.
    const starts = journal.filter((line) => line.event === 'start');
    assert.equal(starts.length, 2, JSON.stringify(journal));
    const [first, second] = starts as [JournalLine, JournalLine];
    assert.notEqual(first.pid, second.pid);
    assert.deepEqual(overlaps(journal), [], 'no two copies of the task alive at once on hv3');
    assert.equal(journal.some((line) => line.event === 'end' && line.pid === first.pid), false, 'the cut-off copy was stopped, not left to finish');
    assert.equal(existsSync(`/proc/${first.pid}`), false, 'the cut-off copy is gone');
    assert.ok(journal.some((line) => line.event === 'end' && line.pid === second.pid), 'the retry finished');
  });

  it('serialises two runs on one host: the second waits for hv1, held by the first, and runs after it', { timeout: 180_000 }, async (t) => {
    const trial = await lockTrial(trials);
    const journal = readJournal(trials.lab.host('hv1'), 'lock');
    t.diagnostic(`lock trial: second run waited ${JSON.stringify(trial.waiting?.waitingForHost)}; its tool started ${trial.recoverMs ?? '?'} ms after the first's ended; ${trial.totalMs} ms`);
    assert.equal(trial.first.state, 'succeeded');
    assert.equal(trial.second.state, 'succeeded');
    assert.equal(trial.waiting?.waitingForHost?.host, 'hv1', 'the second run said it waits for hv1');
    assert.equal(trial.waiting?.waitingForHost?.heldBy, trial.firstRunId, 'and that the first run holds it');
    assert.ok(trial.waiting, 'the second run was seen waiting');
    assert.equal(taskOf(trial.waiting, 'long').state, 'pending', 'its task had not started while it waited');
    // The host: the second run's tool started only after the first one's ended.
    assert.deepEqual(events(journal), ['start', 'end', 'start', 'end']);
    assert.deepEqual(overlaps(journal), []);
  });

  it('reboots hv2 inside its step of a canary rollout and goes on to hv3 only once hv2\'s worker is back', { timeout: 300_000 }, async (t) => {
    const trial = await rebootTrial(trials);
    const { lab } = trials;
    const reboot = taskOf(trial.hv2Step, 'reboot');
    t.diagnostic(`reboot trial: ${reboot.summary ?? reboot.error?.message ?? ''}; run ${trial.totalMs} ms`);
    assert.equal(trial.status.state, 'succeeded', JSON.stringify(trial.status.tasks.map((task) => [task.id, task.state, task.error?.message])));
    assert.deepEqual(
      trial.progress.targets.map((target) => [target.name, target.state]),
      [
        ['hv1', 'updated'],
        ['hv2', 'updated'],
        ['hv3', 'updated'],
      ],
    );
    assert.equal(reboot.state, 'succeeded');
    assert.equal(reboot.outputs?.host, 'hv2');
    assert.equal(reboot.outputs?.proof, 'worker instance changed');
    for (const host of lab.hosts) assert.equal(hasUpdateMarker(host, 'reboot'), true, `${host.name} carries the update`);
    const journals = Object.fromEntries(lab.hosts.map((host) => [host.name, readJournal(host, 'reboot')]));
    const workerOf = (name: string, event: JournalLine['event']): number | undefined => journals[name]?.find((line) => line.event === event)?.other;
    for (const name of ['hv1', 'hv2', 'hv3']) assert.deepEqual(events(journals[name] ?? []), ['start', 'apply', 'after'], name);
    // hv2's last task ran in the worker that came back after the reboot; hv1 and hv3 kept theirs.
    assert.notEqual(workerOf('hv2', 'after'), workerOf('hv2', 'start'));
    assert.equal(workerOf('hv1', 'after'), workerOf('hv1', 'start'));
    assert.equal(workerOf('hv3', 'after'), workerOf('hv3', 'start'));
    const hv2Back = journals.hv2?.find((line) => line.event === 'after')?.atMs ?? Infinity;
    assert.ok((journals.hv3?.[0]?.atMs ?? 0) > hv2Back, 'hv3 was not touched until hv2 was back and done');
  });

  it('fails a task on a host whose worker is gone for good in bounded time, saying "host hv2 has no worker since ..."', { timeout: 240_000 }, async (t) => {
    const trial = await goneTrial(trials, { restore: false });
    const task = taskOf(trial.status, 'long');
    t.diagnostic(`gone trial: attempt lost ${trial.detectMs ?? '?'} ms after the kill; run failed ${trial.failedAfterMs} ms after the kill: ${task.error?.message ?? ''}`);
    assert.equal(trial.status.state, 'failed');
    assert.equal(task.error?.type, 'HostWithoutWorker');
    assert.match(task.error?.message ?? '', /^host hv2 has no worker since \d{4}-\d\d-\d\dT[\d:.]+Z: task long waited 10s for one$/);
    // The history: the attempt lost by its heartbeat timeout, then one that no worker ever took.
    assert.deepEqual(
      trial.attempts.map((attempt) => [attempt.ending, attempt.startedAtMs !== undefined]),
      [
        ['timed-out:TIMEOUT_TYPE_HEARTBEAT', true],
        ['timed-out:TIMEOUT_TYPE_SCHEDULE_TO_START', false],
      ],
    );
    // Bounded: the 30 s heartbeat timeout, the 10 s workerWait, and scheduling slack, far below the run's 170 s limit.
    assert.ok(trial.failedAfterMs < 90_000, `failed ${trial.failedAfterMs} ms after the kill`);
    const journal = readJournal(trials.lab.host('hv2'), 'gone');
    assert.deepEqual(events(journal), ['start'], 'the killed copy never finished and nothing ran on hv2 again');
  });
});
