import * as wf from '@temporalio/workflow';
import type { ApplyResult, NetworkCheckpointActivities, SettledResult } from '../activities/actions/network-checkpoint';
import type { CheckpointOutcome } from '../activities/actions/network-checkpoint-store';
import { NETWORK_CHANGE_REVERTED, NETWORK_CHANGE_UNCONFIRMED, NetworkChangeInput } from '../dag-repos/actions/network-actions';
import { parseDuration } from '../dag-repos/schema/duration';
import type { ActionWorkflowInput, ActionWorkflowResult } from './action-workflow';
import { zodProblems } from '../dag-repos/schema/zod-problems';

/**
 * `host.network-change`: a change on a host's network that reverts by itself unless the host's worker
 * reconnects and confirms in time.
 *
 *   1. apply (host queue): arm the checkpoint, whose revert timer runs on the host outside the worker,
 *      then run the apply commands.
 *   2. confirm (host queue, schedule-to-start shorter than what is left of confirmWithin): it can only
 *      start if the worker still (or again) reaches Temporal; runs the check, then disarms.
 *   3. otherwise report (host queue, a long schedule-to-start): once the host is back, what its timer did.
 *      A host back before the deadline with its apply done is confirmed there; one later is reverted at
 *      once if its timer has not done so. A reverted change fails the task, saying so.
 *
 * Confirming and reverting settle the checkpoint on the host by one atomic rename: exactly one wins.
 */

// How long the apply activity may go without a heartbeat before the host counts as cut off (a share of confirmWithin).
const HEARTBEAT_SHARE = 0.5;
const HEARTBEAT_MIN_MS = 5_000;
const HEARTBEAT_MAX_MS = 60_000;
// Each revert command is given 60 s on the host (activities/actions/network-steps.ts); the waits below cover that.
const REVERT_STEP_MS = 60_000;
/** The confirmation is not even tried when less than this is left of confirmWithin. */
const CONFIRM_MARGIN_MS = 1_000;

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function failedBecause(host: string, confirmWithin: string, outcome: Extract<CheckpointOutcome, { state: 'reverted' }>): string {
  const why = outcome.reason === 'timer' || outcome.reason === 'late' ? `the host did not confirm within ${confirmWithin}` : (outcome.detail ?? outcome.reason);
  const codes = outcome.revertSteps.map((step) => (step.exitCode !== null ? String(step.exitCode) : (step.signal ?? `not started: ${step.error ?? '?'}`)));
  return `network change on ${host} reverted: ${why} (revert ran at ${outcome.at}, revert steps exit codes ${codes.join(', ') || 'none'})`;
}

/** Rethrows an activity's own failure as this workflow's, so the task shows its type and message rather than "activity failed". */
function hostFailure(error: unknown): never {
  if (error instanceof wf.ActivityFailure && error.cause instanceof wf.ApplicationFailure) {
    const cause = error.cause;
    throw wf.ApplicationFailure.create({ type: cause.type ?? 'Error', message: cause.message, nonRetryable: true, details: cause.details ?? [] });
  }
  throw error;
}

function timedOut(error: unknown): boolean {
  return error instanceof wf.ActivityFailure && error.cause instanceof wf.TimeoutFailure;
}

/** Runs on the run's own queue; its activities run on the host's queue. */
export async function networkChange(input: ActionWorkflowInput): Promise<ActionWorkflowResult> {
  const parsed = NetworkChangeInput.safeParse(input.with);
  if (!parsed.success) {
    const problems = zodProblems(parsed.error, '', 'with.').join('; ');
    throw wf.ApplicationFailure.nonRetryable(`invalid input for host.network-change: ${problems}`, 'InvalidActionInput');
  }
  const change = parsed.data;
  const confirmWithinMs = parseDuration(change.confirmWithin);
  const { host } = input;
  const info = wf.workflowInfo();
  // Unique per attempt of the task (a retried task is a new run of this workflow), stable across worker restarts.
  const ref = { checkpointId: `${info.workflowId}/${info.runId}`, confirmWithinMs };
  const invocation = {
    runId: input.runId,
    dagId: input.dagId,
    taskId: input.taskId,
    ...(input.itemIndex === undefined ? {} : { itemIndex: input.itemIndex }),
    with: input.with,
    source: input.source,
    ...(input.secretRefs ? { secretRefs: input.secretRefs } : {}),
  };
  const heartbeatTimeoutMs = clamp(confirmWithinMs * HEARTBEAT_SHARE, HEARTBEAT_MIN_MS, HEARTBEAT_MAX_MS);
  const revertWaitMs = (change.revert.length + 1) * REVERT_STEP_MS;
  const once = { maximumAttempts: 1 };

  const settledOutcome = (result: SettledResult): CheckpointOutcome => {
    if (result.state === 'absent') throw wf.ApplicationFailure.nonRetryable(`network change on ${host}: the host has no record of checkpoint ${ref.checkpointId} (was its data directory lost?)`, NETWORK_CHANGE_UNCONFIRMED);
    return result.outcome;
  };
  const finish = (outcome: CheckpointOutcome, applied?: Extract<ApplyResult, { state: 'applied' }>): ActionWorkflowResult => {
    if (outcome.state === 'reverted') {
      throw wf.ApplicationFailure.create({ type: NETWORK_CHANGE_REVERTED, nonRetryable: true, message: failedBecause(host, change.confirmWithin, outcome), details: [{ checkpointId: ref.checkpointId, outcome }] });
    }
    return {
      outputs: { checkpointId: ref.checkpointId, confirmedAt: outcome.at, ...(applied ? { mode: applied.mode, applyExitCodes: applied.applySteps.map((step) => step.exitCode) } : {}) },
      summary: `network change on ${host} confirmed at ${outcome.at}${applied ? ` (${applied.mode} checkpoint)` : ''}`,
    };
  };

  const { networkChangeApply } = wf.proxyActivities<NetworkCheckpointActivities>({
    taskQueue: host,
    scheduleToStartTimeout: input.timeoutMs,
    startToCloseTimeout: confirmWithinMs + revertWaitMs,
    heartbeatTimeout: heartbeatTimeoutMs,
    retry: once,
  });
  let applied: ApplyResult | undefined;
  try {
    applied = await networkChangeApply(invocation, ref);
  } catch (error) {
    // Only a timeout means the host went quiet after it started; any other failure is the task's answer.
    if (!timedOut(error)) hostFailure(error);
  }
  if (applied?.state === 'settled') return finish(applied.outcome);

  if (applied?.state === 'applied') {
    // Measured on the host from arming; the time the result took to arrive is not known here, and need not be:
    // a confirmation that starts too late loses the race to the timer on the host and reports the revert.
    const leftMs = confirmWithinMs - applied.sinceArmedMs - CONFIRM_MARGIN_MS;
    if (leftMs > 0) {
      const { networkChangeConfirm } = wf.proxyActivities<NetworkCheckpointActivities>({
        taskQueue: host,
        scheduleToStartTimeout: leftMs,
        startToCloseTimeout: confirmWithinMs + revertWaitMs,
        heartbeatTimeout: heartbeatTimeoutMs,
        retry: once,
      });
      try {
        return finish(settledOutcome(await networkChangeConfirm(invocation, ref)), applied);
      } catch (error) {
        if (!timedOut(error)) hostFailure(error);
      }
    }
  }

  // The host missed its chance to confirm: its timer reverts (or has); wait for it to come back and say so.
  const { networkChangeReport } = wf.proxyActivities<NetworkCheckpointActivities>({
    taskQueue: host,
    scheduleToStartTimeout: input.timeoutMs,
    startToCloseTimeout: revertWaitMs,
    heartbeatTimeout: heartbeatTimeoutMs,
    retry: { maximumAttempts: 3 },
  });
  let report: SettledResult;
  try {
    report = await networkChangeReport(invocation, ref);
  } catch (error) {
    if (!timedOut(error)) hostFailure(error);
    throw wf.ApplicationFailure.nonRetryable(
      `network change on ${host}: the host did not confirm within ${change.confirmWithin} and has not reported since (waited ${Math.round(input.timeoutMs / 1000)}s); its revert timer was armed to revert it`,
      NETWORK_CHANGE_UNCONFIRMED,
    );
  }
  return finish(settledOutcome(report), applied?.state === 'applied' ? applied : undefined);
}
