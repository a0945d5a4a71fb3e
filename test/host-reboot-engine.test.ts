import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestEngine, type TestEngine } from './support/engine';
import { taskOf } from './support/waiting';

/**
 * host.reboot on the real Temporal dev server without the fleet lab (no root needed): the refusals the
 * hostReboot workflow makes before it touches a host, and a host that never goes away. Every worker here
 * has a reboot command that does nothing (`true`): no test may reboot this machine.
 */

describe('host.reboot on the dev server', { timeout: 180_000 }, () => {
  let engine: TestEngine;
  let host: string;
  before(async () => {
    engine = await startTestEngine({ env: { QUBINODE_REBOOT_COMMAND: '["true"]', QUBINODE_REBOOT_CHANGES: 'boot' } });
    host = `${engine.taskQueue}-hv9`;
    await engine.addWorker(host, false);
  });
  after(async () => {
    await engine?.close();
  });

  it('refuses a reboot without runsOn rather than reboot whichever worker took it', async () => {
    const status = await engine.run(engine.compile('id: reboot-nowhere\ntasks:\n  - id: reboot\n    uses: host.reboot\n    with: { waitFor: 5s }\n'));
    const reboot = taskOf(status, 'reboot');
    assert.equal(status.state, 'failed');
    assert.equal(reboot.error?.type, 'InvalidActionInput');
    assert.match(reboot.error?.message ?? '', /give runsOn, the queue of the host to reboot/);
  });

  it('refuses guest names injected through params before anything runs on the host', async () => {
    const dag = engine.compile(`id: reboot-injected
params:
  drain: { type: object }
tasks:
  - id: reboot
    uses: host.reboot
    runsOn: ${host}
    with:
      drain: \${{ params.drain }}
      waitFor: 5s
`);
    // The whole drain comes from a param, so only the workflow can check it, when the task starts.
    for (const guests of [['--all'], ['web;reboot'], ['../../etc/passwd'], ['$(reboot)'], ['x'.repeat(10_000)], Array.from({ length: 201 }, (_, index) => `vm${index}`)]) {
      const status = await engine.run(dag, { drain: { mode: 'shutdown', guests } });
      const reboot = taskOf(status, 'reboot');
      assert.equal(reboot.error?.type, 'InvalidActionInput', JSON.stringify(reboot.error));
      assert.match(reboot.error?.message ?? '', /with\.drain\.guests/);
      assert.equal(reboot.outputs, undefined);
    }
  });

  it("fails with HostDidNotComeBack when no new worker polls the host's queue within waitFor", async () => {
    const status = await engine.run(engine.compile(`id: reboot-stuck\ntasks:\n  - id: reboot\n    uses: host.reboot\n    runsOn: ${host}\n    with: { waitFor: 4s }\n`));
    const reboot = taskOf(status, 'reboot');
    assert.equal(status.state, 'failed');
    assert.equal(reboot.error?.type, 'HostDidNotComeBack');
    // The worker kept polling: it was last seen recently, and the message names the host's queue.
    assert.match(reboot.error?.message ?? '', new RegExp(`^host ${host} did not come back within 4s \\(last seen \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\)$`));
  });
});
