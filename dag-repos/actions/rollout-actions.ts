import type { ActionDefinition } from './action-definition';
import { actionNonRetryable } from './failure-types';
import { ApprovalInput, RolloutInput } from './rollout-inputs';
import { UpdatesApplyInput, UpdatesDetectInput, UpdatesRevertInput } from './updates-inputs';

/** Actions of staged rollouts (issue 5): a human gate, a fleet rollout child workflow, update detection. */
export const ROLLOUT_ACTIONS: readonly ActionDefinition[] = [
  {
    name: 'approval',
    description: 'Wait for a person to approve or reject (qubinode approve, HTTP API, or a Web UI signal); optional timeout with a default outcome.',
    input: ApprovalInput,
    execution: { kind: 'approval' },
    nonRetryableErrors: [],
    defaultTimeoutMs: 0,
  },
  {
    name: 'rollout',
    description: 'Roll a per-target step DAG out over targets (canary, blue-green, rolling, all-at-once) with health analysis and rollback.',
    input: RolloutInput,
    execution: { kind: 'rollout' },
    nonRetryableErrors: [],
    defaultTimeoutMs: 0,
  },
  {
    name: 'updates.detect',
    description: 'List available package updates (dnf check-update / apt-get -s dist-upgrade): security vs maintenance, reboot needed.',
    input: UpdatesDetectInput,
    execution: { kind: 'activity', activity: 'updatesDetect' },
    nonRetryableErrors: actionNonRetryable('updatesDetect'),
    heartbeatTimeoutMs: 30_000,
    defaultTimeoutMs: 10 * 60_000,
  },
  {
    name: 'updates.apply',
    description: 'Update the named packages (dnf upgrade / apt-get install --only-upgrade) and verify each is at the version that was on offer.',
    input: UpdatesApplyInput,
    execution: { kind: 'activity', activity: 'updatesApply' },
    nonRetryableErrors: actionNonRetryable('updatesChange'),
    heartbeatTimeoutMs: 30_000,
    defaultTimeoutMs: 60 * 60_000,
  },
  {
    name: 'updates.revert',
    description: 'Put packages back at the versions they had before updates.apply (its `updated` output), if the repositories still offer them; the compensation of updates.apply.',
    input: UpdatesRevertInput,
    execution: { kind: 'activity', activity: 'updatesRevert' },
    nonRetryableErrors: actionNonRetryable('updatesChange'),
    heartbeatTimeoutMs: 30_000,
    defaultTimeoutMs: 60 * 60_000,
  },
];
