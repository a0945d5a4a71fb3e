import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { NamespaceNotFoundError } from '@temporalio/common';
import { ATTEMPT_MARKER_ENV, AttemptLedger, currentAttempt, type AttemptStart } from '../activities/platform/attempt-ledger';
import { processGroupAlive } from '../activities/process/process-group';
import { createLogger } from '../config/logger';
import { until } from '../test/support/waiting';
import { AttemptRecovery } from './attempt-recovery';

/**
 * A host cut off the network past an attempt's heartbeat timeout keeps its worker and the tool it
 * runs; when the link mends, Temporal's retry of that task may reach the worker before the old attempt
 * hears it was given up on. These tests show the new attempt's first step stops the old one's processes.
 * Real processes; no Temporal is needed (the step runs before the activity's own work).
 */

const logger = createLogger('silent', 'test');
const attempt = (activityId: string, workflowId = 'dag/fleet/1', number = 1): AttemptStart => ({ taskToken: new Uint8Array([number]), workflowId, activityId, activityType: 'shell', attempt: number });

function sleeper(marker: string): number {
  const child = spawn('/bin/sleep', ['60'], { detached: true, stdio: 'ignore', env: { PATH: process.env.PATH, [ATTEMPT_MARKER_ENV]: marker } });
  child.unref();
  return child.pid as number;
}

function recoveryOf(ledger: AttemptLedger): AttemptRecovery {
  return new AttemptRecovery(ledger, () => Promise.reject(new Error('nothing is reported lost here')), logger);
}

describe('a new attempt taking over from one Temporal gave up on', () => {
  it('stops the earlier attempt\'s processes of the same task on this host and tells it to start no more', async () => {
    const ledger = new AttemptLedger(mkdtempSync(path.join(tmpdir(), 'ledger-')));
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    let pgid = 0;
    let entry: ReturnType<typeof currentAttempt>;
    const running = ledger.track(attempt('long'), async () => {
      entry = currentAttempt();
      pgid = sleeper(entry?.id ?? '');
      entry?.addGroup(pgid);
      await held;
    });
    try {
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(processGroupAlive(pgid), true);
      const stopped = await recoveryOf(ledger).supersede('dag/fleet/1', 'long');
      assert.deepEqual(stopped, [pgid]);
      assert.equal(processGroupAlive(pgid), false, 'the old copy is gone before the new attempt may start');
      assert.equal(entry?.superseded, true);
    } finally {
      release();
      await running;
      if (processGroupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
    }
  });

  it('leaves alone the attempts of other tasks and of other runs', async () => {
    const ledger = new AttemptLedger(mkdtempSync(path.join(tmpdir(), 'ledger-')));
    const groups: number[] = [];
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const others = [attempt('other-task'), attempt('long', 'dag/another-run/1'), attempt('long[1]')].map((start) =>
      ledger.track(start, async () => {
        const pgid = sleeper(currentAttempt()?.id ?? '');
        groups.push(pgid);
        currentAttempt()?.addGroup(pgid);
        await held;
      }),
    );
    try {
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(await recoveryOf(ledger).supersede('dag/fleet/1', 'long'), []);
      for (const pgid of groups) assert.equal(processGroupAlive(pgid), true);
    } finally {
      release();
      await Promise.all(others);
      for (const pgid of groups) process.kill(-pgid, 'SIGKILL');
    }
  });

  it('never kills a process group that does not carry the old attempt\'s marker (a record naming a stranger)', async () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'ledger-'));
    const stranger = sleeper('someone-else');
    try {
      // A record that names the stranger's group, as a forged or stale record would.
      writeFileSync(
        path.join(directory, `${process.pid}-1-99.json`),
        JSON.stringify({ workerPid: process.pid, workerStartTicks: '1', taskToken: 'AQID', workflowId: 'dag/fleet/1', activityId: 'long', activityType: 'shell', attempt: 1, startedAt: new Date().toISOString(), groups: [stranger] }),
      );
      assert.deepEqual(await recoveryOf(new AttemptLedger(directory)).supersede('dag/fleet/1', 'long'), []);
      assert.equal(processGroupAlive(stranger), true);
    } finally {
      process.kill(-stranger, 'SIGKILL');
    }
  });

  it('does nothing for an activity outside any workflow (an empty workflow id matches no record)', async () => {
    const ledger = new AttemptLedger(mkdtempSync(path.join(tmpdir(), 'ledger-')));
    await ledger.track(attempt('long', ''), async () => {
      const pgid = sleeper(currentAttempt()?.id ?? '');
      currentAttempt()?.addGroup(pgid);
      try {
        assert.deepEqual(await recoveryOf(ledger).supersede('', 'long'), []);
        assert.equal(processGroupAlive(pgid), true);
      } finally {
        process.kill(-pgid, 'SIGKILL');
      }
    });
  });
});

describe('the orphan watchdog of a worker run from the TypeScript sources', () => {
  it('stops a killed worker\'s tools when tsx was registered inside the worker (bin/qubinode.js without a build)', async () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'ledger-'));
    // The worker stand-in registers tsx the way bin/qubinode.js does, so node's execArgv says nothing of it.
    const root = path.join(__dirname, '..');
    const standIn = path.join(directory, 'worker.cjs');
    writeFileSync(
      standIn,
      `const from = require('node:module').createRequire(process.argv[2] + '/');
       from('tsx/cjs');
       const { spawn } = require('node:child_process');
       const { AttemptLedger, currentAttempt, ATTEMPT_MARKER_ENV } = from('./activities/platform/attempt-ledger.ts');
       const { startOrphanWatchdog } = from('./workers/orphan-watchdog.ts');
       const ledger = new AttemptLedger(process.argv[3]);
       startOrphanWatchdog(ledger.directory);
       ledger.track({ taskToken: new Uint8Array([1]), workflowId: 'dag/fleet/1', activityId: 'long', activityType: 'shell', attempt: 1 }, async () => {
         const tool = spawn('/bin/sleep', ['60'], { detached: true, stdio: 'ignore', env: { PATH: process.env.PATH, [ATTEMPT_MARKER_ENV]: currentAttempt().id } });
         currentAttempt().addGroup(tool.pid);
         console.log('tool ' + tool.pid);
         await new Promise(() => setInterval(() => undefined, 1000));
       });`,
    );
    // The worker stand-in registers tsx the way bin/qubinode.js does, so node's execArgv says nothing of it.
    const worker = spawn(process.execPath, [standIn, root, path.join(directory, 'attempts')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const pid = await new Promise<number>((resolve, reject) => {
      let seen = '';
      worker.stdout.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        const found = /tool (\d+)/.exec(seen);
        if (found) resolve(Number(found[1]));
      });
      worker.once('exit', () => reject(new Error(`the worker stand-in exited early: ${seen}`)));
    });
    try {
      assert.equal(processGroupAlive(pid), true);
      worker.kill('SIGKILL');
      await until(() => !processGroupAlive(pid), 30_000, 'the watchdog to stop the killed worker\'s tool');
    } finally {
      if (processGroupAlive(pid)) process.kill(-pid, 'SIGKILL');
    }
  });
});

describe('recovering the attempts of dead workers', () => {
  const deadRecord = (token: string, activityId: string): string =>
    JSON.stringify({ workerPid: 999_999_999, workerStartTicks: '1', taskToken: token, workflowId: 'dag/fleet/1', activityId, activityType: 'shell', attempt: 1, startedAt: new Date().toISOString(), groups: [] });

  it('reports the other lost attempts when one of them cannot be reported now, and keeps that one for the next sweep', async () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'ledger-'));
    writeFileSync(path.join(directory, 'a.json'), deadRecord('AQ==', 'first'));
    writeFileSync(path.join(directory, 'b.json'), deadRecord('Ag==', 'second'));
    const reported: number[] = [];
    const recovery = new AttemptRecovery(
      new AttemptLedger(directory),
      async (token) => {
        if (token[0] === 1) throw new Error('the server did not answer');
        reported.push(token[0] ?? 0);
      },
      logger,
    );
    await assert.rejects(recovery.sweep(), /the server did not answer/);
    assert.deepEqual(reported, [2], 'the second attempt was reported although the first could not be');
    assert.deepEqual(readdirSync(directory).sort(), ['a.json'], 'the unreported record stays for the next sweep');
  });

  it('forgets an attempt whose namespace the server does not know (a server started afresh on old data)', async () => {
    const directory = mkdtempSync(path.join(tmpdir(), 'ledger-'));
    writeFileSync(path.join(directory, 'a.json'), deadRecord('AQ==', 'first'));
    const recovery = new AttemptRecovery(new AttemptLedger(directory), () => Promise.reject(new NamespaceNotFoundError('01a2198c-2ce7-78d6-bd23-4de82f4c3819')), logger);
    const [recovered] = await recovery.sweep();
    assert.equal(recovered?.outcome, 'gone');
    assert.deepEqual(readdirSync(directory), []);
  });
});
