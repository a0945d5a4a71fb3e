import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { compileDagFile } from '../dag-repos/compiler/compile';
import { ParamValidationError, resolveParams } from '../dag-repos/schema/params';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { NetworkChangeInput } from '../dag-repos/actions/network-actions';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { CHECKPOINT_DIR_NAME, CheckpointStore } from '../activities/actions/network-checkpoint-store';
import { networkManagerRunning } from '../activities/actions/network-manager';
import { createLogger } from '../config/logger';
import { createQubinodeWorker } from '../workers/qubinode-worker';
import { startTestEngine, type TestEngine } from './support/engine';
import { taskOf } from './support/waiting';
import { zodProblems } from '../config/zod-problems';
import { workerTemporalAccess } from '../client/worker-access';

/**
 * host.network-change without the lab: its input contract, and the whole action on the real
 * Temporal dev server with a worker for a "host" queue in this process, on changes that cannot cut
 * anything off (files in a temporary directory). The cut-off case runs in the fleet lab
 * (test/network-change-lab.test.ts).
 */

const valid = { apply: [['nmcli', 'con', 'up', 'br0']], revert: [['nmcli', 'con', 'up', 'eth0']] };

function problems(input: unknown): string {
  const result = NetworkChangeInput.safeParse(input);
  return result.success ? '' : zodProblems(result.error, '').join('; ');
}

describe('host.network-change input', () => {
  it('is registered as an action carried out by the networkChange workflow', () => {
    const action = new ActionRegistry().get('host.network-change');
    assert.deepEqual(action?.execution, { kind: 'workflow', workflow: 'networkChange', hostActivities: ['networkChangeApply', 'networkChangeConfirm', 'networkChangeReport'] });
  });

  it('accepts argv lists and fills in confirmWithin 2m and checkpoint auto', () => {
    const parsed = NetworkChangeInput.parse(valid);
    assert.equal(parsed.confirmWithin, '2m');
    assert.equal(parsed.checkpoint, 'auto');
  });

  it('refuses a shell string where a command list is expected, and says to write argv', () => {
    assert.match(problems({ ...valid, apply: 'nmcli con up br0 && ip link set eth0 down' }), /apply: must be a list of commands/);
    assert.match(problems({ ...valid, revert: ['nmcli con up eth0'] }), /revert\.0: must be a list of strings .*a shell string is not accepted/);
    assert.match(problems({ ...valid, check: 'ping -c1 gateway' }), /check: must be a list of strings/);
  });

  it('refuses an empty command, an empty program name and empty step lists', () => {
    assert.match(problems({ ...valid, apply: [[]] }), /apply\.0: must name a program/);
    assert.match(problems({ ...valid, apply: [['', 'x']] }), /apply\.0\.0: the program name cannot be empty/);
    assert.match(problems({ ...valid, revert: [] }), /revert: revert needs at least one command/);
    assert.match(problems({ ...valid, check: [] }), /check: must name a program/);
    assert.match(problems({ revert: valid.revert }), /apply/);
  });

  it('refuses oversized lists and arguments, NUL bytes and deeper nesting', () => {
    assert.match(problems({ ...valid, apply: Array.from({ length: 33 }, () => ['true']) }), /apply: at most 32 commands/);
    assert.match(problems({ ...valid, apply: [Array.from({ length: 65 }, () => 'x')] }), /apply\.0: at most 64 arguments/);
    assert.match(problems({ ...valid, apply: [['echo', 'x'.repeat(4097)]] }), /apply\.0\.1: an argument may be at most 4096 characters/);
    assert.match(problems({ ...valid, apply: [['echo', 'a\0b']] }), /NUL/);
    assert.notEqual(problems({ ...valid, apply: [[['nested']]] }), '');
    assert.notEqual(problems({ ...valid, apply: [[{ $ne: 1 }]] }), '');
  });

  it('keeps separators, substitutions and "--" as data inside argv', () => {
    assert.equal(problems({ ...valid, apply: [['ip', '--', 'link', 'set', 'eth0;id', '$(reboot)']] }), '');
  });

  it('refuses confirmWithin outside 5s..30m or not a duration, and unknown checkpoints and keys', () => {
    assert.match(problems({ ...valid, confirmWithin: '4s' }), /confirmWithin: must be between 5s and 30m, got 4s/);
    assert.match(problems({ ...valid, confirmWithin: '31m' }), /between 5s and 30m/);
    assert.match(problems({ ...valid, confirmWithin: '1d' }), /between 5s and 30m/);
    assert.match(problems({ ...valid, confirmWithin: 'soon' }), /confirmWithin: invalid duration "soon"/);
    assert.match(problems({ ...valid, confirmWithin: 120 }), /confirmWithin/);
    assert.match(problems({ ...valid, checkpoint: 'systemd' }), /checkpoint/);
    assert.match(problems({ ...valid, script: 'ip link set eth0 down' }), /script/);
  });
});

describe('the hypervisor bootstrap example bridges its uplink under host.network-change', () => {
  const text = readFileSync(path.join(__dirname, '..', 'dag-repos', 'examples', 'dags', 'hypervisor-bootstrap.yaml'), 'utf8');
  const dag = compileDagFile({ repo: 'examples', path: 'dags/hypervisor-bootstrap.yaml', commit: 'test', text }, { registry: new ActionRegistry() });

  it('compiles, with the uplink move as a network change that only runs in bridge mode, with an uplink named, under NetworkManager', () => {
    const uplink = dag.tasks.find((task) => task.id === 'bridge-uplink');
    assert.equal(uplink?.action, 'host.network-change');
    assert.equal(uplink?.when, "params.network_mode == 'bridge' && params.bridge_uplink && tasks.preflight.outputs.host.networkManager");
    assert.equal(resolveParams(dag.params, {}).bridge_uplink, '');
  });

  it('refuses uplink and bridge names that are not interface names, so a value cannot pass for an nmcli option or reach a shell', () => {
    for (const hostile of ['--help', '-x', 'eth0; reboot', '$(reboot)', 'eth0 up', 'a'.repeat(16), '../eth0']) {
      assert.throws(() => resolveParams(dag.params, { bridge_uplink: hostile }), ParamValidationError, hostile);
      assert.throws(() => resolveParams(dag.params, { bridge_name: hostile }), ParamValidationError, hostile);
    }
    assert.equal(resolveParams(dag.params, { bridge_uplink: 'eno1' }).bridge_uplink, 'eno1');
  });
});

describe('host.network-change on the real engine (a host queue served in this process)', { timeout: 300_000 }, () => {
  let engine: TestEngine;
  let host: string;
  let dir: string;
  before(async () => {
    engine = await startTestEngine();
    host = `nethost-${randomUUID().slice(0, 8)}`;
    await engine.addWorker(host, false);
    dir = mkdtempSync(path.join(tmpdir(), 'qubinode-netchange-'));
  });
  after(async () => {
    await engine?.close();
  });

  const dag = (id: string, withText: string): string => `id: ${id}
tasks:
  - id: change
    uses: host.network-change
    runsOn: ${host}
    with:
${withText
  .trim()
  .split('\n')
  .map((line) => `      ${line}`)
  .join('\n')}
`;

  it('confirms a change whose host stays reachable and whose check passes, and never reverts it afterwards', async () => {
    const applied = path.join(dir, 'applied');
    const reverted = path.join(dir, 'reverted-1');
    const status = await engine.run(
      engine.compile(
        dag(
          'net-confirm',
          `apply: [["touch", ${JSON.stringify(applied)}]]
revert: [["touch", ${JSON.stringify(reverted)}]]
check: ["test", "-e", ${JSON.stringify(applied)}]
confirmWithin: 5s
checkpoint: timer`,
        ),
      ),
    );
    const task = taskOf(status, 'change');
    assert.equal(task.state, 'succeeded', JSON.stringify(task.error));
    assert.match(task.summary ?? '', new RegExp(`network change on ${host} confirmed at .* \\(timer checkpoint\\)`));
    assert.deepEqual(task.outputs?.applyExitCodes, [0]);
    assert.equal(task.outputs?.mode, 'timer');
    // Past confirmWithin, and then some: the timer found it confirmed and reverted nothing.
    await new Promise((resolve) => setTimeout(resolve, 6_500));
    assert.ok(existsSync(applied));
    assert.equal(existsSync(reverted), false, 'a confirmed change was reverted');
    const store = new CheckpointStore(path.join(engine.config.dataDir, CHECKPOINT_DIR_NAME));
    const state = store.read(String(task.outputs?.checkpointId));
    assert.equal(state.state, 'settled');
    assert.equal(state.state === 'settled' ? state.outcome.state : '', 'confirmed');
    assert.equal(store.isArmed(String(task.outputs?.checkpointId)), false, 'the checkpoint was left armed');
  });

  it('reverts at once and fails the task, naming the command, when an apply command fails', async () => {
    const first = path.join(dir, 'first-step');
    const status = await engine.run(
      engine.compile(
        dag(
          'net-apply-fails',
          `apply: [["touch", ${JSON.stringify(first)}], ["sh", "-c", "echo no such device >&2; exit 2"]]
revert: [["rm", "-f", ${JSON.stringify(first)}], ["false"]]
confirmWithin: 2m
checkpoint: timer`,
        ),
      ),
    );
    const task = taskOf(status, 'change');
    assert.equal(task.state, 'failed');
    assert.equal(task.error?.type, 'NetworkChangeReverted');
    assert.match(task.error?.message ?? '', new RegExp(`^network change on ${host} reverted: apply command 2 \\(sh -c .*\\) exited 2: no such device \\(revert ran at \\S+, revert steps exit codes 0, 1\\)$`));
    assert.equal(existsSync(first), false, 'the revert ran without waiting for confirmWithin');
  });

  it('reverts and fails the task when the check fails after the change', async () => {
    const applied = path.join(dir, 'check-applied');
    const status = await engine.run(
      engine.compile(
        dag(
          'net-check-fails',
          `apply: [["touch", ${JSON.stringify(applied)}]]
revert: [["rm", ${JSON.stringify(applied)}]]
check: ["test", "-e", ${JSON.stringify(path.join(dir, 'gateway-answers'))}]
confirmWithin: 1m
checkpoint: timer`,
        ),
      ),
    );
    const task = taskOf(status, 'change');
    assert.equal(task.error?.type, 'NetworkChangeReverted');
    assert.match(task.error?.message ?? '', /reverted: check \(test -e .*gateway-answers\) exited 1 \(revert ran at .*, revert steps exit codes 0\)/);
    assert.equal(existsSync(applied), false);
  });

  it('writes the apply and revert commands and their output to the task log', async () => {
    const logs = readdirSync(engine.logDir, { recursive: true }).map(String).filter((name) => name.endsWith('change.log'));
    const text = logs.map((name) => readFileSync(path.join(engine.logDir, name), 'utf8')).join('\n');
    assert.match(text, /no such device/);
    assert.match(text, /--- .* rm -f .*first-step\n--- exit 0/);
  });

  it('refuses checkpoint: nmcli on a host without NetworkManager, before changing anything', async (t) => {
    if (await networkManagerRunning()) {
      t.skip('NetworkManager runs on this machine');
      return;
    }
    const applied = path.join(dir, 'nm-applied');
    const status = await engine.run(engine.compile(dag('net-nm', `apply: [["touch", ${JSON.stringify(applied)}]]\nrevert: [["true"]]\ncheckpoint: nmcli`)));
    const task = taskOf(status, 'change');
    assert.equal(task.error?.type, 'CheckpointUnavailable');
    assert.match(task.error?.message ?? '', /checkpoint: nmcli needs NetworkManager/);
    assert.equal(existsSync(applied), false);
  });

  it('counts as host.network-change for a host policy cap: a host accepting it runs it, a host accepting only shell refuses it before changing anything', async () => {
    const workers: { stop: () => Promise<void> }[] = [];
    const cappedHost = async (actions: string): Promise<string> => {
      const queue = `netcap-${randomUUID().slice(0, 8)}`;
      const cap = path.join(dir, `${queue}.yaml`);
      writeFileSync(cap, `actions: [${actions}]\n`);
      const config = { ...engine.config, taskQueue: engine.taskQueue, policy: { ...engine.config.policy, hostFile: cap } };
      const running = await createQubinodeWorker({ temporalAccess: workerTemporalAccess, config, logger: createLogger('error', 'network-change-test'), taskQueue: queue, runWorkflows: false });
      const done = running.worker.run();
      workers.push({ stop: async () => { running.worker.shutdown(); await done.catch(() => undefined); await running.close(); } });
      return queue;
    };
    try {
      const accepting = await cappedHost('"host.network-change"');
      const refusing = await cappedHost('shell');
      const changeOn = (queue: string, marker: string): string => `id: net-cap\ntasks:\n  - id: change\n    uses: host.network-change\n    runsOn: ${queue}\n    with:\n      apply: [["touch", ${JSON.stringify(marker)}]]\n      revert: [["true"]]\n      confirmWithin: 5s\n      checkpoint: timer\n`;
      const allowed = path.join(dir, 'cap-allowed');
      const ran = taskOf(await engine.run(engine.compile(changeOn(accepting, allowed))), 'change');
      assert.equal(ran.state, 'succeeded', JSON.stringify(ran.error));
      assert.ok(existsSync(allowed));
      const forbidden = path.join(dir, 'cap-forbidden');
      const refused = taskOf(await engine.run(engine.compile(changeOn(refusing, forbidden))), 'change');
      assert.equal(refused.error?.type, 'PolicyRefused');
      assert.match(refused.error?.message ?? '', new RegExp(`host ${refusing} does not accept action host\\.network-change`));
      assert.equal(existsSync(forbidden), false);
    } finally {
      for (const worker of workers) await worker.stop();
    }
  });

  it('refuses at run time commands a param renders into a shell string or an oversized list, before anything runs on the host', async () => {
    const marker = path.join(dir, 'param-ran');
    const compiled = engine.compile(`id: net-param
params:
  cmds: { type: array }
tasks:
  - id: change
    uses: host.network-change
    runsOn: ${host}
    with:
      apply: \${{ params.cmds }}
      revert: [["touch", ${JSON.stringify(marker)}]]
`);
    for (const cmds of [['ip link set eth0 down; reboot'], Array.from({ length: 33 }, () => ['touch', marker]), [['touch', marker, '\0']]]) {
      const task = taskOf(await engine.run(compiled, { cmds }), 'change');
      assert.equal(task.error?.type, 'InvalidActionInput', JSON.stringify(task.error));
      assert.match(task.error?.message ?? '', /^invalid input for host\.network-change: with\.apply/);
    }
    assert.equal(existsSync(marker), false, 'neither apply nor revert ran');
  });

  it('refuses at compile time a DAG that gives a shell string as a command', () => {
    assert.throws(() => engine.compile(dag('net-bad', 'apply: "ip link set eth0 down; reboot"\nrevert: [["true"]]')), /tasks\.change\.with\.apply: expected array, got string "ip link set eth0 down; reboot"/);
  });
});
