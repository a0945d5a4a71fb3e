import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { abortRun, rolloutProgress } from '../client/run-control';
import type { RolloutProgress } from '../workflows/rollback-status';
import { startTestEngine, type TestEngine } from './support/engine';
import { taskOf, until, untilTaskState } from './support/waiting';

/**
 * Rollouts with a maintenance window, on the real Temporal dev server (real time: the window that must be
 * waited for opens within about a minute). Each "host" is a worker polling its own queue.
 */

const HOSTS = ['hv1', 'hv2'];
const ALL_DAYS = '[sun, mon, tue, wed, thu, fri, sat]';

const STEP_DAG = `
id: host-update
params:
  target: { type: string }
  queue: { type: string }
  journal: { type: string, required: true }
tasks:
  - id: install
    uses: shell
    runsOn: \${{ params.queue }}
    with:
      script: echo "start \${{ params.target }} $(date +%s%3N)" >> "\${{ params.journal }}"
`;

/** HH:MM of `ms` on the wall clock of `timeZone`. */
function wallClock(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(ms));
}

describe('rollouts with a maintenance window', { concurrency: true, timeout: 300_000 }, () => {
  let engine: TestEngine;
  let dir: string;
  let queues: string[];
  before(async () => {
    engine = await startTestEngine();
    dir = mkdtempSync(path.join(tmpdir(), 'qubinode-window-'));
    queues = HOSTS.map((host) => `${engine.taskQueue}-${host}`);
    await Promise.all(queues.map((queue) => engine.addWorker(queue, false)));
  });
  after(async () => {
    await engine.close();
  });

  const compile = (journal: string, window: string): ReturnType<TestEngine['compile']> =>
    engine.compile(
      `id: fleet
tasks:
  - id: roll
    uses: rollout
    with:
      dag: host-update
      strategy: rolling
      targets: ${JSON.stringify(queues.map((queue, index) => ({ name: HOSTS[index], queue })))}
      params: { journal: "${journal}" }
      maintenanceWindow: ${window}
`,
      { 'host-update': STEP_DAG },
    );

  /** The rollout's progress once its phase matches `phase`. */
  async function progressWhen(runId: string, phase: RegExp): Promise<RolloutProgress> {
    let seen: RolloutProgress | undefined;
    await until(
      async () => {
        const rolloutId = taskOf(await untilTaskState(engine.client, runId, 'roll', 'running'), 'roll').childRunId ?? '';
        seen = rolloutId ? await rolloutProgress(engine.client, rolloutId).catch(() => undefined) : undefined;
        return phase.test(seen?.phase ?? '');
      },
      60_000,
      `the rollout's phase to match ${String(phase)}`,
    );
    return seen as RolloutProgress;
  }

  it('waits for its window in an IANA time zone, says when it opens, and starts the first target once it is open', async (t) => {
    // The next whole minute at least 15 s away, as Berlin's wall clock reads it.
    const now = Date.now();
    const opensAt = Math.ceil((now + 15_000) / 60_000) * 60_000;
    const journal = path.join(dir, 'wait.log');
    const runId = await engine.start(compile(journal, `{ days: ${ALL_DAYS}, start: "${wallClock(opensAt, 'Europe/Berlin')}", duration: 10m, timezone: Europe/Berlin }`));
    const waiting = await progressWhen(runId, /^waiting for maintenance window/);
    t.diagnostic(`phase: ${waiting.phase ?? ''}`);
    assert.equal(waiting.phase, `waiting for maintenance window (opens ${new Date(opensAt).toISOString()})`);
    assert.deepEqual(waiting.targets.map((target) => target.state), ['pending', 'pending']);
    assert.equal(existsSync(journal), false, 'nothing ran before the window opened');
    const status = await engine.wait(runId);
    assert.equal(status.state, 'succeeded', JSON.stringify(taskOf(status, 'roll').error));
    const starts = readFileSync(journal, 'utf8').trim().split('\n').map((line) => Number(line.split(' ')[2]));
    assert.equal(starts.length, 2);
    for (const started of starts) assert.ok(started >= opensAt, `a target started at ${new Date(started).toISOString()}, before the window opened at ${new Date(opensAt).toISOString()}`);
    const done = await rolloutProgress(engine.client, taskOf(status, 'roll').childRunId ?? '');
    assert.equal(done.phase, undefined, 'the waiting phase is cleared once the window is open');
  });

  it('starts at once inside an open window given as a UTC offset', async () => {
    const journal = path.join(dir, 'open.log');
    const status = await engine.run(compile(journal, `{ days: ${ALL_DAYS}, start: "${wallClock(Date.now() - 2 * 3_600_000, 'Asia/Kolkata')}", duration: 4h, timezone: "+05:30" }`));
    assert.equal(status.state, 'succeeded', JSON.stringify(taskOf(status, 'roll').error));
    assert.deepEqual(taskOf(status, 'roll').outputs?.updated, HOSTS);
    const progress = await rolloutProgress(engine.client, taskOf(status, 'roll').childRunId ?? '');
    assert.equal(progress.phase, undefined);
  });

  it('stops waiting when aborted, with every target untouched', async () => {
    const journal = path.join(dir, 'abort.log');
    // A window that opened an hour ago and closed half an hour later: the next one is about a day away.
    const runId = await engine.start(compile(journal, `{ days: ${ALL_DAYS}, start: "${wallClock(Date.now() - 3_600_000, 'UTC')}", duration: 30m }`));
    const waiting = await progressWhen(runId, /^waiting for maintenance window \(opens /);
    await abortRun(engine.client, waiting.rolloutId, { by: 'erin', reason: 'not this week' });
    const status = await engine.wait(runId);
    assert.equal(status.state, 'failed');
    const progress = await rolloutProgress(engine.client, waiting.rolloutId);
    assert.equal(progress.state, 'rolled-back');
    assert.deepEqual(progress.targets.map((target) => target.state), ['pending', 'pending']);
    assert.equal(existsSync(journal), false);
  });

  it('refuses a window with a time of day that does not exist, when the DAG is compiled', () => {
    assert.throws(() => compile(path.join(dir, 'never.log'), `{ days: [sat], start: "25:00", duration: 1h }`), /maintenanceWindow\.start|a time of day HH:MM/);
  });
});
