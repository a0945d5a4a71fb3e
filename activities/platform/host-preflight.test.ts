import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { factContext } from '../../plugins/facts';
import type { ActionInvocation, ActionResult } from '../../dag-repos/actions/action-types';
import { hostFeatures } from './host-features';
import { createPreflightActivities } from './host-preflight';

// host.preflight on the machine running the tests, plus the host features read from directories made here.
const quiet: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const { hostPreflight } = createPreflightActivities();
const invoke = (input: Record<string, unknown>): Promise<ActionResult> => {
  const inv: ActionInvocation = { runId: 'dag/t/preflight/1', dagId: 't/preflight', taskId: 'preflight', with: input };
  return new MockActivityEnvironment(undefined, { logger: quiet }).run<[ActionInvocation], ActionResult, typeof hostPreflight>(hostPreflight, inv);
};
const cpuHasVirtualization = /^flags\s*:.*\b(vmx|svm)\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function root(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'qubinode-features-'));
  roots.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

describe('host.preflight', () => {
  it('passes this host under allowEmulation, reporting how guests will run and the host features', async () => {
    const result = await invoke({ kvm: true, allowEmulation: true, allowUnsupportedOs: true });
    const outputs = result.outputs as { passed: boolean; acceleration: string; emulationReason?: string; host: { systemd: boolean; selinux: string }; checks: { id: string; severity: string }[] };
    assert.equal(outputs.passed, true);
    assert.ok(['kvm', 'emulation'].includes(outputs.acceleration));
    if (!cpuHasVirtualization) assert.match(outputs.emulationReason ?? '', /^software emulation: /);
    assert.equal(outputs.checks.filter((check) => check.id.startsWith('kvm.')).every((check) => check.severity === 'warning'), true);
    assert.deepEqual(Object.keys(outputs.host).sort(), ['apparmor', 'networkManager', 'selinux', 'systemd']);
  });

  it('fails non-retryably naming the KVM checks when the host has no hardware virtualization and emulation is not allowed', { skip: cpuHasVirtualization ? 'this CPU exposes vmx/svm' : false }, async () => {
    await assert.rejects(invoke({ kvm: true, allowUnsupportedOs: true }), (error: unknown) => error instanceof ApplicationFailure && error.type === 'PreflightFailed' && error.nonRetryable && /kvm\.cpu: CPU flags show neither vmx nor svm/.test(error.message));
  });

  it('refuses an allowEmulation that is not a boolean', async () => {
    await assert.rejects(invoke({ allowEmulation: 'true; reboot' }), /with\.allowEmulation/);
  });
});

describe('host features', () => {
  it('reads SELinux enforcing, AppArmor, systemd and NetworkManager from a host root', () => {
    const dir = root({ 'sys/fs/selinux/enforce': '1\n', 'sys/module/apparmor/parameters/enabled': 'Y\n', 'run/systemd/system/.keep': '' });
    assert.deepEqual(hostFeatures(factContext(dir, {}), ['sshd', 'NetworkManager']), { selinux: 'enforcing', apparmor: true, systemd: true, networkManager: true });
  });

  it('reads permissive SELinux, and nothing where the files are absent', () => {
    assert.equal(hostFeatures(factContext(root({ 'sys/fs/selinux/enforce': '0' }), {}), []).selinux, 'permissive');
    assert.deepEqual(hostFeatures(factContext(root({}), {}), ['networkmanager-lookalike']), { selinux: 'disabled', apparmor: false, systemd: false, networkManager: false });
  });

  it('takes no odd value of the selinux or apparmor file for enabled', () => {
    assert.deepEqual(hostFeatures(factContext(root({ 'sys/fs/selinux/enforce': 'yes', 'sys/module/apparmor/parameters/enabled': 'N' }), {}), []), { selinux: 'disabled', apparmor: false, systemd: false, networkManager: false });
  });
});
