import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ActionInvocation, ActionResult } from '../../dag-repos/actions/action-types';
import { collectDiag, createDiagActivities } from './diag';
import { kvmReport } from './diag-kvm';

// Real diagnostics of the machine running the tests: assertions hold on any Linux host.
const quiet: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const diag = createDiagActivities();

function invoke(name: keyof typeof diag, input: Record<string, unknown> = {}): Promise<ActionResult> {
  const inv: ActionInvocation = { runId: 'dag/t/diag/1', dagId: 't/diag', taskId: name, with: input };
  return new MockActivityEnvironment(undefined, { logger: quiet }).run<[ActionInvocation], ActionResult, (typeof diag)[typeof name]>(diag[name], inv);
}

describe('diag actions', () => {
  it('reports system info with the OS from os-release', async () => {
    const info = await collectDiag('system_info');
    assert.equal(typeof info.hostname, 'string');
    assert.ok((info.cpuCount as number) >= 1);
    assert.ok((info.memoryTotalMiB as number) > 0);
    assert.equal(typeof (info.os as { id: string }).id, 'string');
  });

  it('reports memory and root filesystem usage', async () => {
    const usage = await collectDiag('resource_usage');
    const disks = usage.disks as { path: string; totalGiB: number }[];
    assert.equal(disks[0]?.path, '/');
    assert.ok((disks[0]?.totalGiB ?? 0) > 0);
    assert.ok(((usage.memory as { availableMiB: number }).availableMiB) > 0);
  });

  it('finds its own node process by name and lists the largest processes', async () => {
    const info = await collectDiag('process_info', { names: ['node', 'no-such-process-xyz'], top: 3 });
    assert.ok((info.matched as number) >= 1);
    assert.deepEqual(info.notRunning, ['no-such-process-xyz']);
  });

  it('fails service_status with require when a service is not active', async () => {
    await assert.rejects(invoke('diagServiceStatus', { services: ['no-such-service-xyz'], require: true }), (error: unknown) => error instanceof ApplicationFailure && error.type === 'ServiceNotActive' && /no-such-service-xyz/.test(error.message));
    const result = await invoke('diagServiceStatus', { services: ['no-such-service-xyz'] });
    assert.equal(result.outputs.allActive, false);
  });

  it('reports KVM readiness with problems spelled out, failing non-retryably under require', async () => {
    const result = await invoke('diagKvm');
    const report = result.outputs as { ready: boolean; problems: string[]; devKvm: { present: boolean } };
    assert.equal(report.ready, report.problems.length === 0);
    if (!report.ready) {
      await assert.rejects(invoke('diagKvm', { require: true }), (error: unknown) => error instanceof ApplicationFailure && error.type === 'KvmNotReady' && error.nonRetryable && error.message.includes(report.problems[0] ?? '?'));
    }
  });

  it('reports software emulation, with the reason, when /dev/kvm is absent', async () => {
    const report = await kvmReport({ libvirtUri: 'qemu:///system' }, { devKvm: '/nonexistent/kvm' });
    assert.equal(report.acceleration, 'emulation');
    assert.match(report.emulationReason ?? '', /^software emulation: \/nonexistent\/kvm is missing/);
    assert.equal(report.ready, false);
  });

  it('reports software emulation when the kvm node is a plain file, not a device', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'qubinode-kvm-'));
    try {
      const fake = path.join(dir, 'kvm');
      writeFileSync(fake, '');
      const report = await kvmReport({ libvirtUri: 'qemu:///system' }, { devKvm: fake });
      assert.deepEqual([report.devKvm, report.acceleration], [{ present: true, accessible: false }, 'emulation']);
      assert.match(report.emulationReason ?? '', /cannot open it as a device/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says kvm only when the device opens and the CPU exposes vmx or svm', async () => {
    const report = await kvmReport({ libvirtUri: 'qemu:///system' });
    assert.equal(report.acceleration === 'kvm', report.devKvm.present && report.devKvm.accessible && report.cpuVirtualization !== null);
    assert.equal(report.emulationReason === undefined, report.acceleration === 'kvm');
  });

  it('passes require under allowEmulation exactly when libvirt answers, naming the emulation in the summary', async () => {
    const outputs = (await invoke('diagKvm')).outputs as { libvirtd: { reachable: boolean }; acceleration: string; ready: boolean };
    const attempt = invoke('diagKvm', { require: true, allowEmulation: true });
    if (!outputs.libvirtd.reachable) {
      await assert.rejects(attempt, (error: unknown) => error instanceof ApplicationFailure && error.type === 'KvmNotReady');
      return;
    }
    const result = await attempt;
    assert.match(result.summary ?? '', outputs.ready ? /^KVM ready$/ : /^libvirt ready, guests in software emulation: /);
  });

  it('refuses an allowEmulation that is not a boolean', async () => {
    await assert.rejects(invoke('diagKvm', { allowEmulation: 'yes; reboot' }), /with\.allowEmulation/);
  });

  it('lists interfaces including loopback, routes, and resolves localhost', async () => {
    const net = await collectDiag('network');
    assert.ok((net.interfaces as { name: string }[]).some((item) => item.name === 'lo'));
    const resolution = (net.dns as { resolution: { name: string; ok: boolean }[] }).resolution;
    assert.deepEqual(resolution.map((entry) => [entry.name, entry.ok]), [['localhost', true]]);
  });

  it('rejects unknown inputs with the field named', async () => {
    await assert.rejects(invoke('diagProcessInfo', { top: 0 }), /with\.top/);
  });
});
