import { TimeoutType } from '@temporalio/common';
import * as wf from '@temporalio/workflow';
import type { TaskLogChunk, TaskLogReadActivities, TaskLogRequest } from '../activities/platform/task-log-read';
import { DEFAULT_NO_WORKER_AFTER_MS, NO_WORKER_POLLING, noWorkerPollingMessage } from './task-log-ids';

export interface TaskLogReadInput {
  /** The queue of the worker that ran the task (its runsOn, or the run's own queue). */
  hostQueue: string;
  request: TaskLogRequest;
  /** How long to wait for that worker to pick the read up (default DEFAULT_NO_WORKER_AFTER_MS). */
  noWorkerAfterMs?: number;
}

function isScheduleToStartTimeout(error: unknown): boolean {
  return error instanceof wf.ActivityFailure && error.cause instanceof wf.TimeoutFailure && error.cause.timeoutType === TimeoutType.SCHEDULE_TO_START;
}

/**
 * Reads a task's log where it was written: one `readTaskLog` on the host's queue, not retried (the
 * caller asks again). A host whose worker is gone answers NoWorkerPolling within the wait instead of
 * leaving the caller hanging on a queue nobody polls.
 */
export async function taskLogRead(input: TaskLogReadInput): Promise<TaskLogChunk> {
  const { readTaskLog } = wf.proxyActivities<TaskLogReadActivities>({
    taskQueue: input.hostQueue,
    scheduleToStartTimeout: Math.max(1000, input.noWorkerAfterMs ?? DEFAULT_NO_WORKER_AFTER_MS),
    startToCloseTimeout: '30s',
    retry: { maximumAttempts: 1 },
  });
  try {
    return await readTaskLog(input.request);
  } catch (error) {
    if (isScheduleToStartTimeout(error)) throw wf.ApplicationFailure.create({ type: NO_WORKER_POLLING, message: noWorkerPollingMessage(input.hostQueue), nonRetryable: true });
    throw error;
  }
}
