// test-tier: full (not in npm run test:quick: a lab, a production server, real guests, apt or the model)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { kcliSandbox, type KcliSandbox } from '../../test/support/libvirt';
import type { ActionInvocation, ActionResult } from '../../dag-repos/actions/action-types';
import { createKcliActivities } from './kcli';

// Real kcli against a real libvirtd (qemu in software emulation, started by infra/setup-libvirt.sh).
// The VMs have no image and no cloud-init: they boot no OS and send no traffic.
const quiet: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const fixtures = path.resolve(__dirname, '..', '..', 'test', 'fixtures');
const suffix = Math.random().toString(36).slice(2, 7);
const names = { pool: `qpool-${suffix}`, net: `qnet-${suffix}`, vm: `qvm-${suffix}`, plan: `qplan-${suffix}` };

let skip: string | undefined;
let box: KcliSandbox | undefined;
let kcli: ReturnType<typeof createKcliActivities>;

before(async () => {
  const sandbox = await kcliSandbox();
  if ('skip' in sandbox) {
    skip = sandbox.skip;
    return;
  }
  box = sandbox;
  kcli = createKcliActivities({ logRoot: path.join(box.dir, 'logs'), env: box.env, ipPollMs: 300, imageRecheckMs: [500, 1000, 2000], dagDirectories: [{ repo: 'fixtures', dir: fixtures }] });
  mkdirSync(path.join(box.dir, 'pool'));
});

after(async () => {
  if (box === undefined) return;
  // Leave nothing behind even when a test failed half-way.
  for (const [name, input] of [['kcliPlanDelete', { plan: names.plan }], ['kcliVmDelete', { name: names.vm }], ['kcliNetworkDelete', { name: names.net }], ['kcliPoolDelete', { name: names.pool }]] as const) {
    await call(name, input).catch(() => undefined);
  }
  rmSync(box.dir, { recursive: true, force: true });
});

function call(name: keyof typeof kcli, input: Record<string, unknown>): Promise<ActionResult> {
  const inv: ActionInvocation = { runId: `dag/fixtures/kcli/${suffix}`, dagId: 'fixtures/kcli', taskId: name, with: input };
  const activity = kcli[name] as unknown as (inv: ActionInvocation) => Promise<ActionResult>;
  return new MockActivityEnvironment(undefined, { logger: quiet }).run<[ActionInvocation], ActionResult, typeof activity>(activity, inv);
}

const failure = (type: string, pattern?: RegExp) => (error: unknown): boolean => {
  assert.ok(error instanceof ApplicationFailure, String(error));
  assert.equal(error.type, type, error.message);
  if (pattern) assert.match(error.message, pattern);
  return true;
};

describe('kcli actions against a real libvirtd', () => {
  it('creates a storage pool once and skips it the second time', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const created = await call('kcliPoolCreate', { name: names.pool, path: path.join(box?.dir ?? '', 'pool') });
    assert.equal(created.outputs.created, true);
    assert.equal((await call('kcliPoolCreate', { name: names.pool, path: path.join(box?.dir ?? '', 'pool') })).outputs.created, false);
    await assert.rejects(call('kcliPoolCreate', { name: names.pool, path: '/tmp', ifExists: 'fail' }), failure('KcliAlreadyExists'));
  });

  it('creates a NAT network, and reports a network kcli silently failed to create', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    assert.equal((await call('kcliNetworkCreate', { name: names.net, cidr: '192.168.231.0/24' })).outputs.created, true);
    // kcli exits 0 here; only the listing shows nothing was created.
    await assert.rejects(call('kcliNetworkCreate', { name: `bad-${suffix}`, cidr: '999.1.1.0/24' }), failure('KcliCreateFailed', /Invalid Cidr/));
  });

  it('creates, lists, stops, starts and deletes a VM with structured outputs', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const vmInput = { name: names.vm, memory: 128, cpus: 1, disks: [{ size: 1, pool: names.pool }], nets: [names.net], pool: names.pool, params: { virttype: 'qemu' } };
    const created = await call('kcliVmCreate', vmInput);
    assert.equal(created.outputs.name, names.vm);
    assert.equal(created.outputs.state, 'up');
    assert.equal(created.outputs.created, true);
    assert.equal((created.outputs.nets as { net: string }[])[0]?.net, names.net);
    assert.deepEqual(created.outputs.ips, []);

    await assert.rejects(call('kcliVmCreate', vmInput), failure('KcliAlreadyExists', /already exists/));
    await assert.rejects(call('kcliVmCreate', { ...vmInput, name: `${names.vm}-x`, nets: [`nonet-${suffix}`] }), failure('KcliInvalidSpec', new RegExp(`Invalid network nonet-${suffix}`)));
    assert.equal((await call('kcliVmCreate', { ...vmInput, ifExists: 'skip' })).outputs.created, false);

    const listed = await call('kcliVmList', {});
    const mine = (listed.outputs.vms as { name: string; state: string }[]).find((vm) => vm.name === names.vm);
    assert.equal(mine?.state, 'up');

    assert.equal((await call('kcliVmStop', { name: names.vm })).outputs.state, 'down');
    // Asked while the VM is down: a running disk-less VM falls through to network boot, and its
    // firmware's DHCP request gets a lease from the test network sooner or later.
    await assert.rejects(call('kcliVmInfo', { name: names.vm, waitForIp: '1s' }), failure('KcliNoIp', /\(down\) has no IP address after 1s/));
    assert.equal((await call('kcliVmStart', { name: names.vm })).outputs.running, true);

    const replaced = await call('kcliVmCreate', { ...vmInput, ifExists: 'replace', start: false });
    assert.equal(replaced.outputs.created, true);
    assert.equal(replaced.outputs.state, 'down');

    assert.equal((await call('kcliVmDelete', { name: names.vm })).outputs.deleted, true);
    // As a compensation, deleting what is already gone succeeds.
    assert.equal((await call('kcliVmDelete', { name: names.vm })).outputs.deleted, false);
    await assert.rejects(call('kcliVmDelete', { name: names.vm, ifMissing: 'fail' }), failure('KcliNotFound'));
    await assert.rejects(call('kcliVmStart', { name: names.vm }), failure('KcliNotFound'));
  });

  it('creates VMs from one image in one pool at once, and refuses an image no pool has', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    // A blank qcow2 is enough: the VMs are defined, not booted. kcli adds a cloud-init disk to the pool
    // for each, so the creates contend for the pool as a rollout's would.
    const image = `qimg-${suffix}.qcow2`;
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(box?.dir ?? '', 'pool', image), '64M']);
    await call('kcliPoolCreate', { name: names.pool, path: path.join(box?.dir ?? '', 'pool') });
    const vms = [1, 2, 3, 4].map((index) => `${names.vm}-i${index}`);
    try {
      const created = await Promise.allSettled(vms.map((name) => call('kcliVmCreate', { name, image, memory: 128, cpus: 1, nets: [names.net], pool: names.pool, start: false, params: { virttype: 'qemu' } })));
      assert.deepEqual(created.map((result) => result.status === 'fulfilled' ? result.value.outputs.created : String(result.reason)), vms.map(() => true));
    } finally {
      for (const name of vms) await call('kcliVmDelete', { name }).catch(() => undefined);
    }
    await assert.rejects(call('kcliVmCreate', { name: `${names.vm}-noimg`, image: `nope-${suffix}.qcow2`, nets: [names.net], pool: names.pool, start: false }),
      failure('KcliInvalidSpec', new RegExp(`nope-${suffix}\\.qcow2 not found`)));
  });

  it('creates a plan from a plan file with params and deletes it', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const created = await call('kcliPlanCreate', { plan: names.plan, file: 'kcli/tiny-plan.yml', params: { prefix: names.plan, pool: names.pool, net: names.net } });
    assert.deepEqual(created.outputs.vms, [`${names.plan}-a`]);
    assert.equal((await call('kcliPlanCreate', { plan: names.plan, file: 'kcli/tiny-plan.yml', ifExists: 'skip' })).outputs.created, false);
    assert.equal((await call('kcliPlanDelete', { plan: names.plan })).outputs.deleted, true);
    // kcli exits 4 for a plan with nothing to delete: with ifMissing skip that is success.
    assert.equal((await call('kcliPlanDelete', { plan: names.plan })).outputs.deleted, false);
    await assert.rejects(call('kcliPlanCreate', { plan: names.plan, file: 'kcli/nope.yml' }), failure('KcliFileNotFound'));
  });

  it('deletes the network and the pool', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    assert.equal((await call('kcliNetworkDelete', { name: names.net })).outputs.deleted, true);
    assert.equal((await call('kcliPoolDelete', { name: names.pool })).outputs.deleted, true);
    assert.equal((await call('kcliPoolDelete', { name: names.pool })).outputs.deleted, false);
  });
});
