import { TimeoutType } from '@temporalio/common';
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, isCancellation, TimeoutFailure } from '@temporalio/workflow';
import { classifyFailureName } from '../dag-repos/actions/failure-types';
import type { TaskError } from './run-status';

const DETAIL_KEYS = ['exitCode', 'signal', 'stdoutTail', 'stderrTail', 'logPath', 'attempts', 'lastStatus', 'lastError', 'bodyTail', 'attempt', 'failedTasks'];

function smallDetails(details: unknown): Record<string, unknown> | undefined {
  if (details === null || typeof details !== 'object') return undefined;
  const picked = Object.fromEntries(Object.entries(details).filter(([key]) => DETAIL_KEYS.includes(key)));
  return Object.keys(picked).length ? picked : undefined;
}

function timeoutMessage(failure: TimeoutFailure): string {
  switch (failure.timeoutType) {
    case TimeoutType.START_TO_CLOSE:
      return 'timed out: the attempt ran longer than the task timeout';
    case TimeoutType.HEARTBEAT:
      return 'timed out: the worker stopped heartbeating (worker died or stalled)';
    case TimeoutType.SCHEDULE_TO_START:
      return `timed out waiting for a worker to pick the task up`;
    default:
      return 'timed out';
  }
}

/** Turns what Temporal threw for a task into the small error kept in the run status. */
export function toTaskError(error: unknown): TaskError {
  if (isCancellation(error)) return { type: 'Cancelled', message: 'cancelled', retryable: false };
  const cause = error instanceof ActivityFailure || error instanceof ChildWorkflowFailure ? (error.cause ?? error) : error;
  if (cause instanceof TimeoutFailure) return { type: 'Timeout', message: timeoutMessage(cause), retryable: true };
  if (cause instanceof ApplicationFailure) {
    const details = smallDetails(cause.details?.[0]);
    return {
      ...classifyFailureName(cause.type ?? undefined),
      message: cause.message,
      retryable: !cause.nonRetryable,
      ...(details ? { details } : {}),
    };
  }
  if (cause instanceof Error) return { ...classifyFailureName(cause.name || undefined), message: cause.message, retryable: false };
  return { ...classifyFailureName(undefined), message: String(cause), retryable: false };
}

/** The attempt count carried by our activities' failures and results. */
export function attemptOf(value: unknown): number | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const attempt = (value as { attempt?: unknown }).attempt;
  return typeof attempt === 'number' ? attempt : undefined;
}
