import { ApplicationFailure } from '@temporalio/common';
import { DIAG_INPUTS, DiagKvmInput, DiagServiceStatusInput, type DiagNetworkInput, type DiagProcessInfoInput, type DiagResourceUsageInput, type DiagTool } from '../../dag-repos/actions/diag-input';
import { parseActionInput } from '../actions/action-input';
import type { ActionInvocation, ActionResult } from '../../dag-repos/actions/action-types';
import { kvmReport, type KvmReport } from './diag-kvm';
import { networkReport } from './diag-network';
import { processInfo, resourceUsage, serviceStatus, systemInfo } from './diag-system';
import { nonRetryableOf, type FailureType } from '../../dag-repos/actions/failure-types';

export const DIAG_ERRORS = {
  /** diag.kvm with `require: true` found a problem (listed in the message). */
  KvmNotReady: 'KvmNotReady',
  /** diag.service_status with `require: true` found an inactive service. */
  ServiceNotActive: 'ServiceNotActive',
} as const satisfies Record<string, FailureType>;

/** A host that lacks KVM will not grow it by retrying. */
export const DIAG_NON_RETRYABLE_ERRORS: readonly string[] = nonRetryableOf(Object.values(DIAG_ERRORS));

/** Runs one diagnostic on this host and returns its JSON; shared by the activities and `qubinode diag`. */
export async function collectDiag(tool: DiagTool, rawInput: unknown = {}): Promise<Record<string, unknown>> {
  const input: unknown = parseActionInput(`diag.${tool}`, DIAG_INPUTS[tool], rawInput);
  switch (tool) {
    case 'system_info':
      return systemInfo();
    case 'resource_usage':
      return resourceUsage(input as DiagResourceUsageInput);
    case 'service_status':
      return { ...(await serviceStatus(input as DiagServiceStatusInput)) };
    case 'process_info':
      return processInfo(input as DiagProcessInfoInput);
    case 'kvm':
      return { ...(await kvmReport(input as DiagKvmInput)) };
    case 'network':
      return networkReport(input as DiagNetworkInput);
    default:
      return assertNever(tool);
  }
}

function assertNever(value: never): never {
  throw new Error(`unknown diag tool ${String(value)}`);
}

async function diagnose(tool: DiagTool, inv: ActionInvocation): Promise<ActionResult> {
  const outputs = await collectDiag(tool, inv.with);
  if (tool === 'kvm') {
    const report = outputs as unknown as KvmReport;
    const input = DiagKvmInput.parse(inv.with);
    // Under allowEmulation only libvirt itself must answer: guests then run in QEMU's software emulation.
    const usable = input.allowEmulation ? report.libvirtd.reachable : report.ready;
    if (input.require && !usable) {
      throw ApplicationFailure.create({ type: DIAG_ERRORS.KvmNotReady, nonRetryable: true, message: `KVM not ready: ${report.problems.join('; ')}`, details: [outputs] });
    }
    if (report.ready) return { outputs, summary: 'KVM ready' };
    if (usable) return { outputs, summary: `libvirt ready, guests in ${report.emulationReason ?? 'software emulation'}` };
    return { outputs, summary: `KVM not ready: ${report.problems.length} problem(s)` };
  }
  if (tool === 'service_status') {
    const report = outputs as { services: { name: string; active: boolean; state: string }[]; allActive: boolean };
    const inactive = report.services.filter((service) => !service.active);
    if (DiagServiceStatusInput.parse(inv.with).require && inactive.length > 0) {
      throw ApplicationFailure.create({ type: DIAG_ERRORS.ServiceNotActive, message: `not active: ${inactive.map((service) => `${service.name} (${service.state})`).join(', ')}`, details: [outputs] });
    }
    return { outputs, summary: `${report.services.length - inactive.length}/${report.services.length} active` };
  }
  return { outputs, summary: `diag.${tool} collected` };
}

/** `diag.*` activities: read-only host diagnostics returning JSON outputs. */
export function createDiagActivities() {
  return {
    diagSystemInfo: (inv: ActionInvocation) => diagnose('system_info', inv),
    diagResourceUsage: (inv: ActionInvocation) => diagnose('resource_usage', inv),
    diagServiceStatus: (inv: ActionInvocation) => diagnose('service_status', inv),
    diagProcessInfo: (inv: ActionInvocation) => diagnose('process_info', inv),
    diagKvm: (inv: ActionInvocation) => diagnose('kvm', inv),
    diagNetwork: (inv: ActionInvocation) => diagnose('network', inv),
  };
}
