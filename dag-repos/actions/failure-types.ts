// Pure module: the failure types of actions and whether retrying can fix them, defined once.
import { z } from 'zod';

/**
 * Every ApplicationFailure type a built-in action (its activity, or the workflow that carries it out)
 * may fail with. Closed: a new type does not compile until isRetryable classifies it.
 */
export const FAILURE_TYPES = [
  // Any action
  'InvalidActionInput',
  'SecretNotFound',
  'SecretStoreUnavailable',
  'SecretStoreNotConfigured',
  'SecretReferenceInvalid',
  'WorkerLost',
  'AttemptSuperseded',
  // shell
  'CommandNotFound',
  'CommandFailed',
  'CommandTimedOut',
  // http.check
  'HealthCheckFailed',
  // ansible.playbook
  'AnsibleFileNotFound',
  'AnsibleNotInstalled',
  'AnsiblePlaybookInvalid',
  'AnsibleTaskFailed',
  'AnsibleHostUnreachable',
  'AnsibleFailed',
  'AnsibleTimedOut',
  // diag.*
  'KvmNotReady',
  'ServiceNotActive',
  // kcli.*
  'KcliNotInstalled',
  'KcliFileNotFound',
  'KcliAlreadyExists',
  'KcliNotFound',
  'KcliCommandFailed',
  'KcliCreateFailed',
  'KcliNoIp',
  'KcliInvalidSpec',
  // host.preflight
  'PreflightFailed',
  // updates.*
  'UnsupportedPackageManager',
  'UpdateNotApplied',
  // host.reboot
  'HostDidNotComeBack',
  'HostNotRebooted',
  'HostVerifyFailed',
  'HostDrainFailed',
  'RebootCommandFailed',
  // host.network-change
  'NetworkChangeReverted',
  'NetworkChangeUnconfirmed',
  'CheckpointUnavailable',
  'CheckpointExists',
  'CheckpointStuck',
] as const;

export const FailureType = z.enum(FAILURE_TYPES);
export type FailureType = z.infer<typeof FailureType>;

/** Whether Temporal may retry an attempt that failed with `type`; false for facts a new attempt meets again. */
export function isRetryable(type: FailureType): boolean {
  switch (type) {
    // A busy host, a flaky network or a tool's hiccup may pass.
    case 'CommandFailed':
    case 'CommandTimedOut':
    case 'HealthCheckFailed':
    case 'AnsibleTaskFailed':
    case 'AnsibleHostUnreachable':
    case 'AnsibleFailed':
    case 'AnsibleTimedOut':
    case 'ServiceNotActive':
    case 'KcliCommandFailed':
    case 'KcliNoIp':
    case 'SecretStoreUnavailable':
      return true;
    // Wrong input, missing tools or files, and facts about the host stay as they are.
    case 'InvalidActionInput':
    case 'SecretNotFound':
    case 'SecretStoreNotConfigured':
    case 'SecretReferenceInvalid':
    case 'CommandNotFound':
    case 'AnsibleFileNotFound':
    case 'AnsibleNotInstalled':
    case 'AnsiblePlaybookInvalid':
    case 'KvmNotReady':
    case 'KcliNotInstalled':
    case 'KcliFileNotFound':
    case 'KcliAlreadyExists':
    case 'KcliNotFound':
    case 'KcliCreateFailed':
    case 'KcliInvalidSpec':
    case 'PreflightFailed':
    case 'UnsupportedPackageManager':
    case 'UpdateNotApplied':
    case 'HostDidNotComeBack':
    case 'HostNotRebooted':
    case 'HostVerifyFailed':
    case 'HostDrainFailed':
    case 'RebootCommandFailed':
    case 'NetworkChangeReverted':
    case 'NetworkChangeUnconfirmed':
    case 'CheckpointUnavailable':
    case 'CheckpointExists':
    case 'CheckpointStuck':
      return false;
    // The run runs such a task again itself, apart from its retry budget; Temporal must not.
    case 'WorkerLost':
    case 'AttemptSuperseded':
      return false;
    default: {
      const unclassified: never = type;
      throw new Error(`unclassified failure type ${String(unclassified)}`);
    }
  }
}

/**
 * What the engine itself may fail a task with, apart from what its action throws: Temporal's timeout or
 * cancellation, an expression that cannot be evaluated, a sub-DAG's params refused, a host with no worker, a host's policy refusing the
 * task, a rejected approval, a halted rollout, a sub-DAG that failed or timed out. `Unclassified` stands for
 * any other name (a plugin's own failure type, a programming error), which the task error keeps beside it.
 */
export const ENGINE_FAILURE_TYPES = ['Timeout', 'Cancelled', 'ExpressionError', 'ParamValidationError', 'HostWithoutWorker', 'PolicyRefused', 'ApprovalRejected', 'RolloutHalted', 'DagRunFailed', 'DagRunTimedOut', 'Unclassified'] as const;
export type EngineFailureType = (typeof ENGINE_FAILURE_TYPES)[number];

/** Every type a task's error may carry: a closed union, so a consumer can switch over it exhaustively. */
export const TASK_FAILURE_TYPES = [...FAILURE_TYPES, ...ENGINE_FAILURE_TYPES] as const;
export type TaskFailureType = FailureType | EngineFailureType;

const KNOWN_TASK_FAILURE_TYPES: ReadonlySet<string> = new Set(TASK_FAILURE_TYPES);

/** The closed type for a failure that reported `name`, and the name itself (made printable and short) when it is none of ours. */
export function classifyFailureName(name: string | undefined): { type: TaskFailureType; reportedType?: string } {
  if (name !== undefined && KNOWN_TASK_FAILURE_TYPES.has(name)) return { type: name as TaskFailureType };
  const printable = (name ?? '').replace(/[^A-Za-z0-9_.:-]/g, '').slice(0, 80);
  return { type: 'Unclassified', reportedType: printable || 'Error' };
}

/** The types of `types` retrying cannot fix, once each, in their order: a retry policy's nonRetryableErrorTypes. */
export function nonRetryableOf(types: readonly FailureType[]): FailureType[] {
  return [...new Set(types.filter((type) => !isRetryable(type)))];
}

/** What any action that runs on a worker may fail with. */
export const COMMON_FAILURES = ['InvalidActionInput', 'SecretNotFound'] as const satisfies readonly FailureType[];

/** The failure types each family of built-in actions declares (its activity's error table says the same; a test holds them together). */
export const ACTION_FAILURES = {
  shell: ['InvalidActionInput', 'CommandNotFound', 'CommandFailed', 'CommandTimedOut'],
  httpCheck: ['InvalidActionInput', 'HealthCheckFailed'],
  ansible: ['InvalidActionInput', 'AnsibleFileNotFound', 'AnsibleNotInstalled', 'AnsiblePlaybookInvalid', 'AnsibleTaskFailed', 'AnsibleHostUnreachable', 'AnsibleFailed', 'AnsibleTimedOut'],
  diag: ['KvmNotReady', 'ServiceNotActive'],
  kcli: ['InvalidActionInput', 'KcliNotInstalled', 'KcliFileNotFound', 'KcliAlreadyExists', 'KcliNotFound', 'KcliCommandFailed', 'KcliCreateFailed', 'KcliNoIp', 'KcliInvalidSpec'],
  preflight: ['PreflightFailed'],
  updatesDetect: ['UnsupportedPackageManager', 'CommandFailed'],
  updatesChange: ['UnsupportedPackageManager', 'CommandFailed', 'UpdateNotApplied'],
  hostReboot: ['HostDidNotComeBack', 'HostNotRebooted', 'HostVerifyFailed', 'HostDrainFailed', 'RebootCommandFailed'],
  networkChange: ['NetworkChangeReverted', 'NetworkChangeUnconfirmed', 'CheckpointUnavailable'],
} as const satisfies Record<string, readonly FailureType[]>;

/** The retry policy's non-retryable list of an action of `family` that runs on a worker. */
export function actionNonRetryable(family: keyof typeof ACTION_FAILURES): FailureType[] {
  return nonRetryableOf([...COMMON_FAILURES, ...ACTION_FAILURES[family]]);
}
