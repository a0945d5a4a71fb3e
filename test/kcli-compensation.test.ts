// test-tier: full (not in npm run test:quick: a lab, a production server, real guests, apt or the model)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';
import { kcliSandbox, type KcliSandbox } from './support/libvirt';

// kcli.vm.create compensated by kcli.vm.delete through the real engine's rollback: auto, against the
// real libvirtd of infra/setup-libvirt.sh. The VM has no image: it boots no OS and sends no traffic.
let engine: TestEngine | undefined;
let box: KcliSandbox | undefined;
let skip: string | undefined;
const savedEnv = { HOME: process.env.HOME, KCLI_CONFIG: process.env.KCLI_CONFIG };
const suffix = Math.random().toString(36).slice(2, 7);

before(async () => {
  const sandbox = await kcliSandbox();
  if ('skip' in sandbox) {
    skip = sandbox.skip;
    return;
  }
  box = sandbox;
  mkdirSync(path.join(box.dir, 'pool'));
  // The in-process worker's kcli reads these at call time: keep its config and state in the sandbox.
  process.env.HOME = box.env.HOME;
  process.env.KCLI_CONFIG = box.env.KCLI_CONFIG;
  engine = await startTestEngine();
});

after(async () => {
  await engine?.close();
  process.env.HOME = savedEnv.HOME;
  if (savedEnv.KCLI_CONFIG === undefined) delete process.env.KCLI_CONFIG;
  else process.env.KCLI_CONFIG = savedEnv.KCLI_CONFIG;
  if (box !== undefined) {
    const domains = [`qcomp-${suffix}`, `qcold-${suffix}`, `qcnew-${suffix}`];
    const undo = [
      ...domains.flatMap((name) => [['destroy', name], ['undefine', name, '--remove-all-storage']]),
      ...[`qcpool-${suffix}`, `qckeep-${suffix}`].flatMap((name) => [['pool-destroy', name], ['pool-undefine', name]]),
      ['net-destroy', `qcnet-${suffix}`],
      ['net-undefine', `qcnet-${suffix}`],
    ];
    for (const args of undo) {
      try {
        execFileSync('virsh', ['-c', 'qemu:///system', ...args], { stdio: 'ignore' });
      } catch {
        // Already gone: the test deleted it.
      }
    }
    rmSync(box.dir, { recursive: true, force: true });
  }
});

describe('kcli actions as compensations', () => {
  it('deletes the VM a failed run created when the DAG rolls back automatically', async (t) => {
    if (skip !== undefined || engine === undefined || box === undefined) return t.skip(skip ?? 'no engine');
    const dag = engine.compile(`
id: kcli-compensation
rollback: auto
tasks:
  - id: pool
    uses: kcli.pool.create
    with: { name: qcpool-${suffix}, path: ${path.join(box.dir, 'pool')} }
    compensate:
      uses: kcli.pool.delete
      with: { name: qcpool-${suffix} }
  - id: vm
    uses: kcli.vm.create
    needs: pool
    with:
      name: qcomp-${suffix}
      memory: 128
      disks: [{ size: 1, pool: qcpool-${suffix} }]
      pool: qcpool-${suffix}
      nets: []
      start: false
      params: { virttype: qemu }
    compensate:
      uses: kcli.vm.delete
      with: { name: "\${{ tasks.vm.outputs.name }}" }
  - id: configure
    uses: shell
    needs: vm
    with: { script: "echo configuring failed >&2; exit 3" }
`);
    const status = await engine.run(dag);
    assert.deepEqual(taskStates(status), { pool: 'succeeded', vm: 'succeeded', configure: 'failed' }, JSON.stringify(status.tasks.map((task) => task.error)));
    assert.equal(status.tasks.find((task) => task.id === 'vm')?.outputs?.created, true);
    const compensations = status.rollback?.compensations ?? [];
    assert.deepEqual(compensations.map((record) => [record.taskId, record.action, record.state]), [
      ['vm', 'kcli.vm.delete', 'succeeded'],
      ['pool', 'kcli.pool.delete', 'succeeded'],
    ]);
    const domains = execFileSync('virsh', ['-c', 'qemu:///system', 'list', '--all', '--name'], { encoding: 'utf8' });
    assert.ok(!domains.includes(`qcomp-${suffix}`), domains);
  });

  it('leaves a VM, network and pool that existed before the run, and removes only what the failed run created', async (t) => {
    if (skip !== undefined || engine === undefined || box === undefined) return t.skip(skip ?? 'no engine');
    mkdirSync(path.join(box.dir, 'keep'));
    const octet = 100 + Math.floor(Math.random() * 150);
    const dag = engine.compile(`
id: kcli-undo-own
rollback: auto
params:
  vms: { type: array }
  fail: { type: boolean, default: false }
tasks:
  - id: network
    uses: kcli.network.create
    with: { name: qcnet-${suffix}, cidr: 10.237.${octet}.0/24, nat: false, dhcp: false, ifExists: skip }
    compensate: { uses: kcli.network.delete, with: { name: qcnet-${suffix} } }
  - id: pool
    uses: kcli.pool.create
    with: { name: qckeep-${suffix}, path: ${path.join(box.dir, 'keep')}, ifExists: skip }
    compensate: { uses: kcli.pool.delete, with: { name: qckeep-${suffix} } }
  - id: vms
    uses: kcli.vm.create
    needs: [network, pool]
    forEach: \${{ params.vms }}
    with:
      name: "\${{ item }}"
      memory: 128
      disks: [{ size: 1, pool: qckeep-${suffix} }]
      pool: qckeep-${suffix}
      nets: [qcnet-${suffix}]
      start: false
      ifExists: skip
      params: { virttype: qemu }
    compensate: { uses: kcli.vm.delete, with: { name: "\${{ item }}" } }
  - id: configure
    uses: shell
    needs: vms
    when: \${{ params.fail }}
    with: { script: "echo configuring failed >&2; exit 3" }
`);
    const virsh = (...args: string[]): string => execFileSync('virsh', ['-c', 'qemu:///system', ...args], { encoding: 'utf8' });
    const before = await engine.run(dag, { vms: [`qcold-${suffix}`] });
    assert.equal(before.state, 'succeeded', JSON.stringify(before.tasks.map((task) => task.error)));

    const failed = await engine.run(dag, { vms: [`qcold-${suffix}`, `qcnew-${suffix}`], fail: true });
    assert.equal(failed.state, 'failed');
    const vms = failed.tasks.find((task) => task.id === 'vms');
    assert.deepEqual(vms?.items?.map((item) => item.outputs?.created), [false, true], 'the second run found the old VM and made the new one');
    const steps = (failed.rollback?.compensations ?? []).map((record) => [record.itemIndex === undefined ? record.taskId : `${record.taskId}[${record.itemIndex}]`, record.state]);
    assert.deepEqual(steps.slice(0, 2), [['vms[1]', 'succeeded'], ['vms[0]', 'skipped']]);
    assert.deepEqual(steps.slice(2).sort(), [['network', 'skipped'], ['pool', 'skipped']]);

    const domains = virsh('list', '--all', '--name');
    assert.ok(domains.includes(`qcold-${suffix}`), `the VM from before the run survives: ${domains}`);
    assert.ok(!domains.includes(`qcnew-${suffix}`), `the VM the failed run made is gone: ${domains}`);
    assert.ok(virsh('net-list', '--all', '--name').includes(`qcnet-${suffix}`), 'the network from before the run survives');
    assert.ok(virsh('pool-list', '--all', '--name').includes(`qckeep-${suffix}`), 'the pool from before the run survives');
  });
});
