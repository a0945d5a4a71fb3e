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
    for (const args of [['destroy', `qcomp-${suffix}`], ['undefine', `qcomp-${suffix}`, '--remove-all-storage'], ['pool-destroy', `qcpool-${suffix}`], ['pool-undefine', `qcpool-${suffix}`]]) {
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
});
