import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ATTEMPT_MARKER_ENV, AttemptLedger, currentAttempt } from './attempt-ledger';
import { processGroupAlive, stopOrphanGroup } from '../process/process-group';

const start = { taskToken: new Uint8Array([1, 2, 3]), workflowId: 'dag/x/1', activityId: 't1', activityType: 'shell', attempt: 1 };

function sleeper(env: NodeJS.ProcessEnv): number {
  const child = spawn('/bin/sleep', ['30'], { detached: true, stdio: 'ignore', env });
  child.unref();
  return child.pid as number;
}

describe('the attempt ledger', () => {
  it('keeps a record while an attempt runs, with the groups it started, and removes it when the attempt ends', async () => {
    const ledger = new AttemptLedger(mkdtempSync(path.join(tmpdir(), 'ledger-')));
    await ledger.track(start, async () => {
      currentAttempt()?.addGroup(4242);
      const [only] = ledger.records();
      assert.equal(only?.record.activityId, 't1');
      assert.deepEqual(only?.record.groups, [4242]);
      assert.equal(only?.record.workerPid, process.pid);
      assert.deepEqual(ledger.orphans(), [], 'the records of a live worker are not orphans');
    });
    assert.deepEqual(readdirSync(ledger.directory), []);
  });

  it('drops a record it cannot read instead of acting on it (garbage, wrong shape, a huge number)', () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'ledger-'));
    writeFileSync(path.join(directory, 'garbage.json'), '{not json');
    writeFileSync(path.join(directory, 'shape.json'), JSON.stringify({ workerPid: -1, groups: ['1; rm -rf /'] }));
    writeFileSync(path.join(directory, 'big.json'), JSON.stringify({ ...start, taskToken: 'AQID', workerPid: 1e300, workerStartTicks: '1', startedAt: '', groups: [] }));
    const ledger = new AttemptLedger(directory);
    assert.deepEqual(ledger.orphans(), []);
    assert.deepEqual(readdirSync(directory), []);
  });

  it('names the records of a dead worker as orphans', () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'ledger-'));
    const record = { ...start, taskToken: 'AQID', workerPid: 999_999_999, workerStartTicks: '12345', startedAt: new Date().toISOString(), groups: [] };
    writeFileSync(path.join(directory, 'dead.json'), JSON.stringify(record));
    assert.deepEqual(new AttemptLedger(directory).orphans().map(({ record: found }) => found.workerPid), [999_999_999]);
  });
});

describe('stopping an orphaned process group', () => {
  it('never touches a group that carries no marker of the attempt (a reused group id is a stranger)', async () => {
    const pid = sleeper({ PATH: process.env.PATH, [ATTEMPT_MARKER_ENV]: 'someone-else' });
    try {
      assert.equal(await stopOrphanGroup(pid, `${ATTEMPT_MARKER_ENV}=the-lost-attempt`), 'absent');
      assert.equal(processGroupAlive(pid), true);
    } finally {
      process.kill(-pid, 'SIGKILL');
    }
  });

  it('stops a group that carries the marker and waits until it is gone', async () => {
    const pid = sleeper({ PATH: process.env.PATH, [ATTEMPT_MARKER_ENV]: 'the-lost-attempt' });
    assert.equal(await stopOrphanGroup(pid, `${ATTEMPT_MARKER_ENV}=the-lost-attempt`), 'stopped');
    assert.equal(processGroupAlive(pid), false);
  });

  it('does not take a marker that only starts like the attempt id for it', async () => {
    const pid = sleeper({ PATH: process.env.PATH, [ATTEMPT_MARKER_ENV]: 'the-lost-attempt-2' });
    try {
      assert.equal(await stopOrphanGroup(pid, `${ATTEMPT_MARKER_ENV}=the-lost-attempt`), 'absent');
    } finally {
      process.kill(-pid, 'SIGKILL');
    }
  });
});
