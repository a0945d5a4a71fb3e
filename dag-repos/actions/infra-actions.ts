// Pure module: definitions of the infrastructure actions (ansible, kcli, diagnostics).
import { COMMON_NON_RETRYABLE, type ActionDefinition } from './action-definition';
import { AnsiblePlaybookInput } from './ansible-input';
import { DIAG_INPUTS, DIAG_TOOLS } from './diag-input';

/** Failure types mirrored from activities/ansible.ts (kept here so this module stays free of activity code). */
const ANSIBLE_NON_RETRYABLE = ['AnsibleFileNotFound', 'AnsibleNotInstalled', 'AnsiblePlaybookInvalid'] as const;

const ANSIBLE_ACTIONS: readonly ActionDefinition[] = [
  {
    name: 'ansible.playbook',
    description: 'Run an Ansible playbook with ansible-navigator (stdout mode, no container by default; ansible-playbook when navigator is absent); outputs per-host stats and failed tasks.',
    input: AnsiblePlaybookInput,
    execution: { kind: 'activity', activity: 'ansiblePlaybook' },
    nonRetryableErrors: [...COMMON_NON_RETRYABLE, ...ANSIBLE_NON_RETRYABLE],
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
  nonRetryableErrors: [...COMMON_NON_RETRYABLE, 'KvmNotReady'],
  defaultTimeoutMs: 2 * 60_000,
}));

/** Every infrastructure action; the registry spreads this into BUILTIN_ACTIONS. */
export const INFRA_ACTIONS: readonly ActionDefinition[] = [...ANSIBLE_ACTIONS, ...DIAG_ACTIONS];
