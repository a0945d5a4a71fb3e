import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { kcliSandbox, type KcliSandbox } from '../../test/support/libvirt';
import { createHostDrainActivities, type DrainRequest, type DrainResult } from './host-drain';

// The drain of host.reboot with real virsh against a real libvirtd (qemu in software emulation, started by
// infra/setup-libvirt.sh). The guests have no disk and boot no OS, so they never answer an ACPI shutdown:
// every shutdown ends in a power-off after the grace period, the path a hung guest takes on a real host.
const quiet: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const suffix = Math.random().toString(36).slice(2, 7);
const running = `qdrain-${suffix}-up`;
const stopped = `qdrain-${suffix}-off`;

let skip: string | undefined;
let box: KcliSandbox | undefined;
let drain: ReturnType<typeof createHostDrainActivities>;

const virsh = (...args: string[]): string => execFileSync('virsh', ['-c', 'qemu:///system', ...args], { encoding: 'utf8', timeout: 60_000 }).trim();
const state = (guest: string): string => virsh('domstate', '--domain', guest);

function define(guest: string, dir: string): void {
  const file = path.join(dir, `${guest}.xml`);
  writeFileSync(
    file,
    `<domain type='qemu'><name>${guest}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os><features><acpi/></features><on_poweroff>destroy</on_poweroff><devices><console type='pty'/></devices></domain>`,
  );
  virsh('define', file);
}

before(async () => {
  const sandbox = await kcliSandbox();
  if ('skip' in sandbox) {
    skip = sandbox.skip;
    return;
  }
  box = sandbox;
  drain = createHostDrainActivities({ logRoot: path.join(box.dir, 'logs'), pollMs: 200 });
  define(running, box.dir);
  define(stopped, box.dir);
  virsh('start', running);
});

after(() => {
  if (box === undefined) return;
  for (const guest of [running, stopped]) {
    for (const args of [['destroy', '--domain', guest], ['undefine', '--domain', guest]]) {
      try {
        virsh(...args);
      } catch {
        // not running, or gone already
      }
    }
  }
});

const task = { runId: `dag/fixtures/reboot/${suffix}`, taskId: 'reboot' };

function runDrain(request: Omit<DrainRequest, 'runId' | 'taskId'>, heartbeatDetails?: DrainResult): Promise<DrainResult> {
  return new MockActivityEnvironment(heartbeatDetails ? { heartbeatDetails } : undefined, { logger: quiet }).run(drain.hostDrain, { ...task, ...request });
}

describe('the drain of host.reboot against a real libvirtd', () => {
  it('shuts down the running guests it names, powers off those that ignore the shutdown, and leaves stopped ones alone', { timeout: 120_000 }, async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const result = await runDrain({ drain: { mode: 'shutdown', tool: 'virsh', guests: [running, stopped], grace: '2s' } });
    assert.deepEqual(result, { stopped: [running], forced: [running], migrated: [] });
    assert.equal(state(running), 'shut off');
    assert.equal(state(stopped), 'shut off');
  });

  it('starts again exactly the guests the drain stopped', { timeout: 120_000 }, async (t) => {
    if (skip !== undefined) return t.skip(skip);
    const result = await new MockActivityEnvironment(undefined, { logger: quiet }).run(drain.hostGuestsStart, { ...task, tool: 'virsh' as const, guests: [running] });
    assert.deepEqual(result, { started: [running] });
    assert.equal(state(running), 'running');
    assert.equal(state(stopped), 'shut off');
  });

  it('resumes from its heartbeat: a guest an earlier attempt stopped is neither stopped again nor forgotten', { timeout: 120_000 }, async (t) => {
    if (skip !== undefined) return t.skip(skip);
    // The earlier attempt had stopped `running`, which has been started since (by hand, say): it is not touched again.
    const result = await runDrain({ drain: { mode: 'shutdown', tool: 'virsh', guests: [running], grace: '2s' } }, { stopped: [running], forced: [], migrated: [] });
    assert.deepEqual(result, { stopped: [running], forced: [], migrated: [] });
    assert.equal(state(running), 'running');
  });

  it('drains nothing in mode none', async (t) => {
    if (skip !== undefined) return t.skip(skip);
    assert.deepEqual(await runDrain({ drain: { mode: 'none', tool: 'virsh', guests: 'all', grace: '2m' } }), { stopped: [], forced: [], migrated: [] });
    assert.equal(state(running), 'running');
  });

  it('refuses guest names that would read as options or paths before running virsh', async () => {
    for (const guest of ['--all', '../x', 'a;b']) {
      await assert.rejects(
        new MockActivityEnvironment(undefined, { logger: quiet }).run(drain?.hostDrain ?? createHostDrainActivities({ logRoot: '/nonexistent' }).hostDrain, { ...task, drain: { mode: 'shutdown', tool: 'virsh', guests: [guest], grace: '2s' } } satisfies DrainRequest),
        (error: unknown) => error instanceof ApplicationFailure && error.type === 'InvalidActionInput' && /guests/.test(error.message),
        guest,
      );
    }
  });
});
