import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { getRunStatus } from '../client/runs';
import { DagValidationError } from '../dag-repos/compiler/diagnostics';
import { startTestEngine, type TestEngine } from './support/engine';
import { until } from './support/waiting';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** A window on the UTC day and minute of `at`, lasting `duration`. */
function windowAt(at: Date, duration: string): string {
  const hhmm = `${String(at.getUTCHours()).padStart(2, '0')}:${String(at.getUTCMinutes()).padStart(2, '0')}`;
  return `maintenanceWindow: { days: [${DAYS[at.getUTCDay()]}], start: "${hhmm}", duration: ${duration}, timezone: UTC }`;
}

const dagWith = (window: string): string => `
id: windowed
${window}
tasks:
  - { id: work, uses: noop }
`;

describe('a DAG with a maintenance window starts its tasks only inside it', () => {
  let engine: TestEngine;
  before(async () => {
    engine = await startTestEngine();
  });
  after(async () => {
    await engine?.close();
  });

  it('runs at once while the window is open', async () => {
    const opened = new Date(Date.now() - 60_000);
    const status = await engine.run(engine.compile(dagWith(windowAt(opened, '2h'))));
    assert.equal(status.state, 'succeeded');
    assert.equal(status.waitingForWindow, undefined);
  });

  it('waits for a closed window, saying when it opens, and can be cancelled while it waits', async () => {
    const later = new Date(Date.now() + 3 * 3600_000);
    const runId = await engine.start(engine.compile(dagWith(windowAt(later, '1h'))));
    await until(async () => (await getRunStatus(engine.client, runId)).waitingForWindow !== undefined, 30_000, 'the run to say it waits for its window');
    const status = await getRunStatus(engine.client, runId);
    const opensAt = Date.parse(status.waitingForWindow ?? '');
    // The window opens at the start of the minute it names.
    assert.equal(opensAt, Math.floor(later.getTime() / 60_000) * 60_000);
    assert.equal(status.tasks[0]?.state, 'pending', 'no task starts before the window');
    await engine.client.workflow.getHandle(runId).cancel();
    assert.equal((await engine.wait(runId)).state, 'cancelled');
  });

  it('starts the tasks when the window opens', async () => {
    // The next minute boundary at least 5 s away, so the run is seen waiting first.
    const next = new Date(Math.ceil((Date.now() + 5_000) / 60_000) * 60_000);
    const runId = await engine.start(engine.compile(dagWith(windowAt(next, '10m'))));
    await until(async () => (await getRunStatus(engine.client, runId)).waitingForWindow !== undefined, 30_000, 'the run to wait for its window');
    const status = await engine.wait(runId);
    assert.equal(status.state, 'succeeded');
    assert.ok(Date.parse(status.tasks[0]?.startedAt ?? '') >= next.getTime(), 'the task started inside the window');
  });

  it('refuses a window that is not one, saying where', () => {
    for (const [window, message] of [
      ['maintenanceWindow: { days: [mon], start: "25:00", duration: 1h }', /maintenanceWindow\.start/],
      ['maintenanceWindow: { days: [], start: "02:00", duration: 1h }', /maintenanceWindow\.days/],
      ['maintenanceWindow: { days: [mon], start: "02:00", duration: 9d }', /at most 7d/],
      ['maintenanceWindow: { days: [mon], start: "02:00", duration: 1h, timezone: "Mars/Olympus" }', /unknown time zone/],
    ] as const) {
      assert.throws(() => engine.compile(dagWith(window)), (error: unknown) => error instanceof DagValidationError && message.test(error.message), window);
    }
  });
});
