import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../config/config';
import { getRunStatus } from '../client/runs';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { LocalCatalog } from '../dag-repos/catalog/local-catalog';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import { resolveParams } from '../dag-repos/schema/params';
import type { DagRunStatus } from '../workflows/run-status';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';
import { createGuestLab, domainNames, guestImage, removeGuestLab, type GuestLab } from './support/guest-image';
import { kcliSandbox, type KcliSandbox } from './support/libvirt';
import { taskOf } from './support/waiting';

// examples/vm-provision end to end on this machine: a Debian guest image built locally
// (infra/build-guest-image.sh, cached), kcli on the real libvirtd in software emulation, Ansible over
// SSH with a key made for this test, http.check against the service the play starts, and the per-VM
// rollback of vm-create-configure. Slow tier: each VM boots in emulation (figures in docs/vm-provisioning.md).
// test-tier: slow
const EXAMPLES = path.join(PROJECT_ROOT, 'dag-repos', 'examples');
const prefix = `qvmp${Math.random().toString(36).slice(2, 7)}`;
const healthyVm = `${prefix}-ok`;
const failingVm = `${prefix}-bad`;
const VM = { memory: 512, cpus: 1 };
// A cold image build downloads and unpacks Debian (minutes); a VM boots, is configured and checked in
// emulation on a shared machine. Deadlines for when something hangs, not expectations.
const BUILD_MS = 40 * 60_000;
const VM_RUN_MS = 25 * 60_000;

let skip: string | false = false;
let healthyProvisioned = false;
let engine: TestEngine | undefined;
let box: KcliSandbox | undefined;
let lab: GuestLab | undefined;
let provision: CompiledDag;
let createConfigure: CompiledDag;
const savedEnv = { HOME: process.env.HOME, KCLI_CONFIG: process.env.KCLI_CONFIG, ANSIBLE_PRIVATE_KEY_FILE: process.env.ANSIBLE_PRIVATE_KEY_FILE };

function restoreEnv(): void {
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
}

before(async () => {
  const sandbox = await kcliSandbox();
  if ('skip' in sandbox) {
    skip = sandbox.skip;
    return;
  }
  box = sandbox;
  const image = await guestImage();
  if ('skip' in image) {
    skip = image.skip;
    return;
  }
  lab = createGuestLab(prefix, box.dir, image.path, image.seconds);
  // The worker's own SSH key, made for this test: kcli authorises ~/.ssh/id_*.pub of its HOME in the
  // guest, and Ansible (ssh reads the passwd home, not HOME) is pointed at it through its environment.
  const home = box.env.HOME ?? '';
  execFileSync('mkdir', ['-m', '700', '-p', path.join(home, '.ssh')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', prefix, '-f', path.join(home, '.ssh', 'id_ed25519')]);
  process.env.HOME = home;
  process.env.KCLI_CONFIG = box.env.KCLI_CONFIG;
  process.env.ANSIBLE_PRIVATE_KEY_FILE = path.join(home, '.ssh', 'id_ed25519');
  engine = await startTestEngine();
  const catalog = LocalCatalog.load([{ repo: 'examples', dir: EXAMPLES }], new ActionRegistry());
  const dagOf = (id: string): CompiledDag => {
    const entry = catalog.get(id);
    assert.ok(entry.dag, JSON.stringify(entry.diagnostics));
    return entry.dag;
  };
  provision = dagOf('examples/vm-provision');
  createConfigure = dagOf('examples/vm-create-configure');
}, { timeout: BUILD_MS });

after(async () => {
  await engine?.close();
  restoreEnv();
  if (lab !== undefined) removeGuestLab(lab, [healthyVm, failingVm, `${prefix}-jinja`]);
  if (box !== undefined) rmSync(box.dir, { recursive: true, force: true });
});

const runParams = (vms: Record<string, unknown>[]): Record<string, unknown> => ({
  vms,
  image: lab?.image,
  network: lab?.network,
  pool: lab?.pool,
  kcli_params: { virttype: 'qemu' },
  ip_timeout: '10m',
  health_timeout: '30s',
});

const childOf = (status: DagRunStatus, index: number): Promise<DagRunStatus> =>
  getRunStatus((engine as TestEngine).client, `dag/examples/vm-create-configure/${status.runKey}.provision.${index}`);

const seconds = (task: { startedAt?: string; endedAt?: string }): number =>
  Math.round((Date.parse(task.endedAt ?? '') - Date.parse(task.startedAt ?? '')) / 1000);

describe('examples/vm-provision on the real libvirtd', () => {
  // Both runs start at once: each VM boots in emulation for minutes, and neither run may touch the other's VM.
  let healthyRun: Promise<DagRunStatus> | undefined;
  let failingRun: Promise<DagRunStatus> | undefined;
  before(() => {
    if (skip !== false || engine === undefined || lab === undefined) return;
    healthyRun = engine.run(provision, runParams([{ name: healthyVm, ...VM }]));
    // A path the status page does not serve: the check answers 404 until its deadline.
    failingRun = engine.run(provision, runParams([{ name: failingVm, ...VM, health_path: '/missing' }]));
    // Awaited by the tests below; a rejection before then is not unhandled.
    for (const run of [healthyRun, failingRun]) run.catch(() => undefined);
  });

  it('creates a VM from the local image, waits for its IP, configures it over SSH and finds its service healthy', { timeout: VM_RUN_MS }, async (t) => {
    if (skip !== false || engine === undefined || lab === undefined || healthyRun === undefined) return t.skip(skip || 'no engine');
    const status = await healthyRun;
    const child = await childOf(status, 0);
    assert.equal(status.state, 'succeeded', JSON.stringify(child.tasks.map((task) => [task.id, task.state, task.error?.message])));
    assert.deepEqual(taskStates(child), { create: 'succeeded', 'wait-ip': 'succeeded', configure: 'succeeded', health: 'succeeded' });
    assert.equal(taskOf(child, 'create').outputs?.created, true);
    const ip = String(taskOf(child, 'wait-ip').outputs?.ip);
    assert.match(ip, new RegExp(`^${lab.cidr.split('.').slice(0, 3).join('\\.')}\\.\\d+$`), `the guest's address is on the test's own network ${lab.cidr}`);
    assert.equal(taskOf(child, 'configure').outputs?.runner !== undefined, true);
    // The page the play wrote from the fact it recorded: served by the guest, read here directly.
    const page = await (await fetch(`http://${ip}:8080/`)).text();
    assert.match(page, new RegExp(`^vm ${healthyVm} provisioned by ${child.runId.replace(/[.]/g, '\\.')} on Debian`));
    assert.ok(domainNames().includes(healthyVm), 'the provisioned VM stays');
    healthyProvisioned = true;
    t.diagnostic(`image ${lab.imageSeconds}s, create ${seconds(taskOf(child, 'create'))}s, boot to IP ${seconds(taskOf(child, 'wait-ip'))}s, configure ${seconds(taskOf(child, 'configure'))}s, health ${seconds(taskOf(child, 'health'))}s`);
  });

  it('rolls back the VM it created when the health check fails, and keeps the VMs it did not create', { timeout: VM_RUN_MS }, async (t) => {
    if (skip !== false || engine === undefined || lab === undefined || failingRun === undefined) return t.skip(skip || 'no engine');
    const status = await failingRun;
    assert.equal(status.state, 'failed');
    const child = await childOf(status, 0);
    assert.deepEqual(taskStates(child), { create: 'succeeded', 'wait-ip': 'succeeded', configure: 'succeeded', health: 'failed' }, JSON.stringify(child.tasks.map((task) => [task.id, task.error?.message])));
    assert.equal(taskOf(child, 'health').error?.type, 'HealthCheckFailed');
    assert.equal(taskOf(child, 'create').outputs?.created, true);
    assert.deepEqual((child.rollback?.compensations ?? []).map((record) => [record.taskId, record.action, record.state]), [['create', 'kcli.vm.delete', 'succeeded']]);
    const domains = domainNames();
    assert.ok(!domains.includes(failingVm), `virsh still lists ${failingVm}: ${domains.join(', ')}`);
    if (healthyProvisioned) assert.ok(domains.includes(healthyVm), 'the VM of the other run is not touched');
  });

  it('refuses kcli parameters that kcli would render as Jinja on the worker, before any VM exists', { timeout: 120_000 }, async (t) => {
    if (skip !== false || engine === undefined || lab === undefined) return t.skip(skip || 'no engine');
    const name = `${prefix}-jinja`;
    const status = await engine.run(createConfigure, {
      name, image: lab.image, network: lab.network, pool: lab.pool,
      kcli_params: { virttype: 'qemu', cmds: ["{{ lookup('pipe', 'touch /tmp/qvmp-pwned') }}"] },
    });
    assert.equal(status.state, 'failed');
    assert.equal(taskOf(status, 'create').error?.type, 'InvalidActionInput');
    assert.match(taskOf(status, 'create').error?.message ?? '', /Jinja/);
    assert.ok(!domainNames().includes(name));
  });

  it('refuses VM names, health paths and timeouts that are not plain values before the run starts', (t) => {
    if (skip !== false || engine === undefined || lab === undefined) return t.skip(skip || 'no engine');
    const base = { name: 'ok-name', image: lab.image };
    for (const hostile of [
      { name: '-oProxyCommand=touch /tmp/x' },
      { name: `vm$(id)` },
      { name: 'Vm\nssh' },
      { health_path: '/?x=${{ params.name }}' },
      { health_path: 'http://elsewhere/' },
      { health_path: '/a b' },
      { health_port: '8080; reboot' },
      { kcli_params: 'virttype=qemu' },
    ]) {
      const [field] = Object.keys(hostile);
      assert.throws(() => resolveParams(createConfigure.params, { ...base, ...hostile }), new RegExp(field ?? '?'), JSON.stringify(hostile));
    }
    assert.throws(() => resolveParams(provision.params, { vms: 'app-1' }), /vms/);
  });
});
