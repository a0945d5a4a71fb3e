// Pure module: definitions of the infrastructure actions (ansible, kcli, diagnostics).
import type { ActionDefinition } from './action-definition';
import { actionNonRetryable } from './failure-types';
import { AnsiblePlaybookInput } from './ansible-input';
import { DIAG_INPUTS, DIAG_TOOLS, HostPreflightInput } from './diag-input';
import {
  KcliNetworkCreateInput, KcliNetworkDeleteInput, KcliPlanCreateInput, KcliPlanDeleteInput, KcliPoolCreateInput, KcliPoolDeleteInput,
  KcliVmCreateInput, KcliVmDeleteInput, KcliVmInfoInput, KcliVmListInput, KcliVmNameInput,
} from './kcli-input';

const ANSIBLE_ACTIONS: readonly ActionDefinition[] = [
  {
    name: 'ansible.playbook',
    description: 'Run an Ansible playbook with ansible-navigator (stdout mode, no container by default; ansible-playbook when navigator is absent); outputs per-host stats and failed tasks.',
    input: AnsiblePlaybookInput,
    execution: { kind: 'activity', activity: 'ansiblePlaybook' },
    nonRetryableErrors: actionNonRetryable('ansible'),
    heartbeatTimeoutMs: 60_000,
    defaultTimeoutMs: 2 * 60 * 60_000,
  },
];

const DIAG_DESCRIPTIONS: Record<(typeof DIAG_TOOLS)[number], string> = {
  system_info: 'Host name, OS, kernel, CPU and memory of the worker host (JSON).',
  resource_usage: 'Load, memory, swap and filesystem usage (JSON).',
  service_status: 'Whether services are active (systemd, or a process of that name without systemd).',
  process_info: 'Largest processes by resident memory, optionally filtered by name (JSON).',
  kvm: '/dev/kvm, CPU virtualization flags, nested virtualization, libvirtd and `virsh list` (JSON); `require: true` fails when not ready.',
  network: 'Interfaces, bridges, routes, name servers and DNS resolution (JSON).',
};

const DIAG_ACTIONS: readonly ActionDefinition[] = DIAG_TOOLS.map((tool) => ({
  name: `diag.${tool}`,
  description: DIAG_DESCRIPTIONS[tool],
  input: DIAG_INPUTS[tool],
  execution: { kind: 'activity', activity: `diag${tool.split('_').map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('')}` },
  nonRetryableErrors: actionNonRetryable('diag'),
  defaultTimeoutMs: 2 * 60_000,
}));

const kcliAction = (name: string, activity: string, input: ActionDefinition['input'], description: string, defaultTimeoutMs = 30 * 60_000): ActionDefinition => ({
  name: `kcli.${name}`,
  description,
  input,
  execution: { kind: 'activity', activity },
  nonRetryableErrors: actionNonRetryable('kcli'),
  heartbeatTimeoutMs: 60_000,
  defaultTimeoutMs,
});

const KCLI_ACTIONS: readonly ActionDefinition[] = [
  kcliAction('vm.create', 'kcliVmCreate', KcliVmCreateInput, 'Create a VM with kcli (image or profile, memory, cpus, disks, nets, cloud-init); ifExists: skip|fail|replace. Compensate with kcli.vm.delete.'),
  kcliAction('vm.delete', 'kcliVmDelete', KcliVmDeleteInput, 'Delete a VM; a missing VM is success unless ifMissing: fail (safe as a compensation).', 10 * 60_000),
  kcliAction('vm.list', 'kcliVmList', KcliVmListInput, 'List VMs with name, state and IPs.', 5 * 60_000),
  kcliAction('vm.info', 'kcliVmInfo', KcliVmInfoInput, 'One VM: state, IPs, disks, nets; waitForIp polls until it has an address.'),
  kcliAction('vm.start', 'kcliVmStart', KcliVmNameInput, 'Start a VM.', 10 * 60_000),
  kcliAction('vm.stop', 'kcliVmStop', KcliVmNameInput, 'Stop a VM.', 10 * 60_000),
  kcliAction('plan.create', 'kcliPlanCreate', KcliPlanCreateInput, 'Create a kcli plan from a plan file in the DAG repository with parameters. Compensate with kcli.plan.delete.', 2 * 60 * 60_000),
  kcliAction('plan.delete', 'kcliPlanDelete', KcliPlanDeleteInput, 'Delete a kcli plan and its VMs; a missing plan is success unless ifMissing: fail.'),
  kcliAction('network.create', 'kcliNetworkCreate', KcliNetworkCreateInput, 'Create a libvirt network (NAT by default), verified by listing. Compensate with kcli.network.delete.', 10 * 60_000),
  kcliAction('network.delete', 'kcliNetworkDelete', KcliNetworkDeleteInput, 'Delete a network; a missing one is success unless ifMissing: fail.', 10 * 60_000),
  kcliAction('pool.create', 'kcliPoolCreate', KcliPoolCreateInput, 'Create a storage pool (directory), verified by listing. Compensate with kcli.pool.delete.', 10 * 60_000),
  kcliAction('pool.delete', 'kcliPoolDelete', KcliPoolDeleteInput, 'Delete a storage pool; a missing one is success unless ifMissing: fail.', 10 * 60_000),
];

const HOST_ACTIONS: readonly ActionDefinition[] = [
  {
    name: 'host.preflight',
    description: 'Facts from the OS/environment plugins and their checks (supported OS, x86_64-v3 for RHEL 10), plus /dev/kvm and CPU virtualization; fails with what is missing.',
    input: HostPreflightInput,
    execution: { kind: 'activity', activity: 'hostPreflight' },
    nonRetryableErrors: actionNonRetryable('preflight'),
    defaultTimeoutMs: 2 * 60_000,
  },
];

/** Every infrastructure action; the registry spreads this into BUILTIN_ACTIONS. */
export const INFRA_ACTIONS: readonly ActionDefinition[] = [...ANSIBLE_ACTIONS, ...DIAG_ACTIONS, ...KCLI_ACTIONS, ...HOST_ACTIONS];
