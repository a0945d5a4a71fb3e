/** Names shared by the taskLogRead workflow and the clients that start it. Plain: no workflow APIs. */

export const TASK_LOG_READ_WORKFLOW = 'taskLogRead';

/** Failure type when no worker picked the read up in time on the host's queue. */
export const NO_WORKER_POLLING = 'NoWorkerPolling';

/** How long a read waits for the host's worker before answering that none is polling. */
export const DEFAULT_NO_WORKER_AFTER_MS = 8000;

export function noWorkerPollingMessage(queue: string): string {
  return `host ${queue} has no worker polling`;
}
