import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { until } from '../../test/support/waiting';
import { createHostRebootActivities, REBOOT_DELAY_SECONDS, workerIdentity, type RebootSettings } from './host-reboot';

// The host steps of host.reboot with real processes. The "reboot" command of these tests appends a line to a
// file: it shows whether and how often the reboot ran, and nothing here can reboot this machine.
const quiet: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const dir = mkdtempSync(path.join(tmpdir(), 'qubinode-reboot-'));
const task = { runId: 'dag/fixtures/reboot/r1', taskId: 'reboot' };

after(() => rmSync(dir, { recursive: true, force: true }));

function activities(command: string[], changes: RebootSettings['changes'] = 'boot') {
  return createHostRebootActivities({ logRoot: path.join(dir, 'logs'), reboot: { command, changes } });
}

const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => new MockActivityEnvironment(undefined, { logger: quiet }).run(fn, ...args);

describe('the host steps of host.reboot', () => {
  it('reports the boot id, the kernel and the identity this worker polls with', async () => {
    const facts = await run(activities(['true'], 'worker').hostRebootFacts);
    assert.equal(facts.workerIdentity, workerIdentity());
    assert.match(facts.workerIdentity, new RegExp(`^${process.pid}@.+/[0-9a-f]{8}$`));
    assert.equal(facts.rebootChanges, 'worker');
    if (existsSync('/proc/sys/kernel/random/boot_id')) assert.equal(facts.bootId, readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
  });

  it('schedules the reboot after it answers, once per task however often it is asked, with the command as argv', { timeout: 60_000 }, async () => {
    const journal = path.join(dir, 'rebooted');
    // The argument that looks like shell stays one argument: it is written, not run.
    const host = activities(['/bin/sh', '-c', 'printf "%s\\n" "$1" >> "$0"', journal, '$(touch /tmp/qubinode-reboot-injected); ;id']);
    const asked = Date.now();
    const first = await run(host.hostRebootTrigger, { ...task, expectIdentity: workerIdentity() });
    assert.equal(existsSync(journal), false, 'nothing ran before the answer');
    assert.deepEqual({ triggered: first.triggered, delaySeconds: first.delaySeconds }, { triggered: true, delaySeconds: REBOOT_DELAY_SECONDS });
    const again = await run(host.hostRebootTrigger, { ...task, expectIdentity: workerIdentity() });
    assert.equal(again.triggered, true);
    await until(() => existsSync(journal), 30_000, 'the scheduled reboot command');
    assert.ok(Date.now() - asked >= (REBOOT_DELAY_SECONDS - 1) * 1000, 'it ran only after the delay');
    // Give a second, wrongly scheduled command the time to show itself.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.deepEqual(readFileSync(journal, 'utf8').split('\n').filter(Boolean), ['$(touch /tmp/qubinode-reboot-injected); ;id']);
    assert.equal(existsSync('/tmp/qubinode-reboot-injected'), false);
  });

  it('does not reboot again when another worker instance answers: the host rebooted already', async () => {
    const journal = path.join(dir, 'not-again');
    const host = activities(['/bin/sh', '-c', 'echo x >> "$0"', journal]);
    const answer = await run(host.hostRebootTrigger, { ...task, taskId: 'other', expectIdentity: 'gone@host/00000000' });
    assert.equal(answer.triggered, false);
    await new Promise((resolve) => setTimeout(resolve, (REBOOT_DELAY_SECONDS + 1) * 1000));
    assert.equal(existsSync(journal), false);
  });

  it('refuses a reboot command that is not an executable program, before scheduling anything', async () => {
    for (const command of [['no-such-reboot-program'], ['./relative/reboot'], [path.join(dir, 'missing')]]) {
      await assert.rejects(
        run(activities(command).hostRebootTrigger, { ...task, taskId: `missing-${command[0]?.length ?? 0}`, expectIdentity: workerIdentity() }),
        (error: unknown) => error instanceof ApplicationFailure && error.type === 'RebootCommandFailed' && error.nonRetryable,
        command.join(' '),
      );
    }
  });
});
