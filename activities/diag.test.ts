import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ActionInvocation, ActionResult } from './action-types';
import { collectDiag, createDiagActivities } from './diag';

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
