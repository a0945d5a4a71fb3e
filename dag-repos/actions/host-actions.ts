// Pure module: actions about a host as a whole, carried out by workflows of their own.
import type { ActionDefinition } from './action-definition';
import { actionNonRetryable, type FailureType } from './failure-types';
import { HostRebootInput } from './host-reboot-input';

/** The workflow type that carries out `host.reboot` (workflows/host-reboot.ts). */
export const HOST_REBOOT_WORKFLOW = 'hostReboot';

/**
 * Failure types of host.reboot, thrown by activities/actions/host-reboot.ts and workflows/host-reboot.ts: a host
 * that did not come back, did not reboot, or failed its verification is a fact about the host, not a hiccup
 * (failure-types.ts classifies them).
 */
export const HOST_REBOOT_FAILURES = {
  didNotComeBack: 'HostDidNotComeBack',
  notRebooted: 'HostNotRebooted',
  verifyFailed: 'HostVerifyFailed',
  drainFailed: 'HostDrainFailed',
  rebootCommandFailed: 'RebootCommandFailed',
} as const satisfies Record<string, FailureType>;

export const HOST_REBOOT_ACTIONS: readonly ActionDefinition[] = [
  {
    name: 'host.reboot',
    description:
      "Reboot the task's host: drain its guests (shut down or live-migrate with virsh/kcli, or none), reboot, wait for the host's worker to come back, verify (new boot, kernel, a command), start the guests it stopped.",
    input: HostRebootInput,
    execution: { kind: 'workflow', workflow: HOST_REBOOT_WORKFLOW },
    nonRetryableErrors: actionNonRetryable('hostReboot'),
    // The whole action: drain, reboot, up to waitFor (15m by default) and verification.
    defaultTimeoutMs: 2 * 60 * 60_000,
  },
];
