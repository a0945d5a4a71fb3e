import { ApplicationFailure } from '@temporalio/common';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../config/config';
import { HostPreflightInput } from '../../dag-repos/actions/diag-input';
import { factContext, gatherFacts } from '../../plugins/facts';
import { loadPlugins } from '../../plugins/loader';
import type { PreflightCheck } from '../../plugins/plugin-api';
import { parseActionInput } from '../actions/action-input';
import type { ActionInvocation, ActionResult } from '../../dag-repos/actions/action-types';
import { kvmReport, type KvmReport } from '../diag/diag-kvm';
import { listProcesses } from '../diag/diag-system';
import { hostFeatures } from './host-features';
import type { FailureType } from '../../dag-repos/actions/failure-types';

export const PREFLIGHT_FAILED = 'PreflightFailed' satisfies FailureType;

/**
 * `host.preflight`: facts from every plugin and their checks, KVM readiness (or software emulation where
 * allowed), and the host features a bootstrap branches on; stops a DAG early with what is missing.
 */
export function createPreflightActivities() {
  return {
    async hostPreflight(inv: ActionInvocation): Promise<ActionResult> {
      const input = parseActionInput('host.preflight', HostPreflightInput, inv.with);
      const plugins = loadPlugins({ nodeModules: [path.join(PROJECT_ROOT, 'node_modules')] });
      const report = await gatherFacts(plugins, factContext('/'));
      const checks: PreflightCheck[] = report.checks.map((check) => (check.id === 'os.supported' && input.allowUnsupportedOs ? { ...check, severity: 'warning' } : check));
      let acceleration: Pick<KvmReport, 'acceleration' | 'emulationReason'> | undefined;
      if (input.kvm) {
        const kvm = await kvmReport({ libvirtUri: 'qemu:///system' });
        acceleration = { acceleration: kvm.acceleration, ...(kvm.emulationReason === undefined ? {} : { emulationReason: kvm.emulationReason }) };
        // Allowed emulation turns a missing KVM into a warning: the host still hosts guests, slowly.
        const severity = input.allowEmulation ? 'warning' : 'error';
        checks.push({ id: 'kvm.device', ok: kvm.devKvm.present && kvm.devKvm.accessible, severity, message: kvm.devKvm.present ? (kvm.devKvm.accessible ? '/dev/kvm present' : '/dev/kvm exists but is not accessible') : '/dev/kvm is missing: enable VT-x/AMD-V in firmware or nested virtualization on the VM host' });
        checks.push({ id: 'kvm.cpu', ok: kvm.cpuVirtualization !== null, severity, message: kvm.cpuVirtualization !== null ? `CPU virtualization: ${kvm.cpuVirtualization}` : 'CPU flags show neither vmx nor svm: hardware virtualization is not exposed to this OS' });
      }
      for (const error of report.errors) checks.push({ id: `plugin.${error.plugin}`, ok: false, severity: 'warning', message: error.message });
      const failed = checks.filter((check) => !check.ok && check.severity === 'error');
      const { cpu, ...os } = (report.facts.os ?? {}) as Record<string, unknown> & { cpu?: Record<string, unknown> };
      const host = hostFeatures(factContext('/'), listProcesses().map((row) => row.name));
      const outputs = { os, cpu: cpu ?? {}, environment: report.facts.environment ?? {}, host, ...acceleration, checks, passed: failed.length === 0 };
      if (failed.length > 0 && input.require) {
        throw ApplicationFailure.create({
          type: PREFLIGHT_FAILED,
          nonRetryable: true,
          message: `preflight failed on this host: ${failed.map((check) => `${check.id}: ${check.message}`).join('; ')}`,
          details: [outputs],
        });
      }
      return { outputs, summary: failed.length === 0 ? `preflight passed (${checks.length} checks)` : `preflight: ${failed.length} check(s) failed (not required)` };
    },
  };
}
