import { randomUUID } from 'node:crypto';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { INVALID_LOG_REQUEST, InvalidTaskLogRequestError, parseTaskLogRequest, TASK_LOG_MAX_BYTES, type TaskLogChunk, type TaskLogFileChunk, type TaskLogRequest } from '../config/task-log-request';
import type { RunState, TaskStatus } from '../workflows/run-status';
import { NO_WORKER_POLLING, noWorkerPollingMessage, TASK_LOG_READ_WORKFLOW } from '../workflows/task-log-ids';
import { taskLogReadId } from '../workflows/workflow-ids';
import type { TaskLogReadInput } from '../workflows/task-log-read';
import { normaliseRunId } from './run-ids';
import { getRunStatus, RunNotFoundError } from './runs';

/**
 * Task logs stay on the machine of the worker that ran the task (its QUBINODE_LOG_DIR). Reading them
 * asks that worker: a short `taskLogRead` workflow on the run's queue runs `readTaskLog` on the queue
 * the task ran on (its runsOn, or the run's own queue), so the CLI and the API read every host's
 * logs through Temporal alone.
 */

export { InvalidTaskLogRequestError };

/** Nobody polls the queue the log lives on (the host's worker is down or was never started). */
export class NoWorkerPollingError extends Error {
  override readonly name = 'NoWorkerPollingError';
  constructor(readonly queue: string, message = noWorkerPollingMessage(queue)) {
    super(message);
  }
}

/** The run has no task of that id. */
export class UnknownLogTaskError extends Error {
  override readonly name = 'UnknownLogTaskError';
}

export { RunNotFoundError };

/** How long a workflow that reads a log may live, should the run's own queue have no worker at all. */
const READ_WORKFLOW_TIMEOUT = '1m';

async function hasPollers(client: Client, queue: string, type: temporal.api.enums.v1.TaskQueueType): Promise<boolean> {
  const answer = await client.workflowService.describeTaskQueue({ namespace: client.options.namespace, taskQueue: { name: queue }, taskQueueType: type });
  return (answer.pollers ?? []).length > 0;
}

function failureCause(error: unknown): unknown {
  let cause = error instanceof WorkflowFailedError ? error.cause : undefined;
  // The activity's own refusal comes wrapped in the ActivityFailure of the read.
  if (cause instanceof ActivityFailure) cause = cause.cause;
  return cause;
}

export interface HostLogRead {
  /** Queue of a worker that runs workflows: the run's own queue. */
  workflowQueue: string;
  /** Queue of the worker that wrote the log. */
  hostQueue: string;
  request: TaskLogRequest;
  /** How long to wait for the host's worker to pick the read up. */
  noWorkerAfterMs?: number;
}

/** Reads one host's log files of a run (one `taskLogRead` workflow on the host's queue). */
export async function readHostTaskLog(client: Client, read: HostLogRead): Promise<TaskLogChunk> {
  const request = parseTaskLogRequest(read.request);
  const { TASK_QUEUE_TYPE_ACTIVITY, TASK_QUEUE_TYPE_WORKFLOW } = temporal.api.enums.v1.TaskQueueType;
  // A queue nobody has polled lately answers at once; a worker that died since is caught by the read's own wait.
  if (!(await hasPollers(client, read.hostQueue, TASK_QUEUE_TYPE_ACTIVITY))) throw new NoWorkerPollingError(read.hostQueue);
  if (!(await hasPollers(client, read.workflowQueue, TASK_QUEUE_TYPE_WORKFLOW))) throw new NoWorkerPollingError(read.workflowQueue, `no worker runs workflows on queue ${read.workflowQueue}`);
  const input: TaskLogReadInput = { hostQueue: read.hostQueue, request, ...(read.noWorkerAfterMs !== undefined ? { noWorkerAfterMs: read.noWorkerAfterMs } : {}) };
  try {
    return await client.workflow.execute<(input: TaskLogReadInput) => Promise<TaskLogChunk>>(TASK_LOG_READ_WORKFLOW, {
      taskQueue: read.workflowQueue,
      workflowId: taskLogReadId(read.hostQueue, request.runId, randomUUID()),
      args: [input],
      workflowExecutionTimeout: READ_WORKFLOW_TIMEOUT,
      staticSummary: `read logs of ${request.runId}${request.taskId ? ` task ${request.taskId}` : ''} on ${read.hostQueue}`,
    });
  } catch (error) {
    const cause = failureCause(error);
    if (cause instanceof ApplicationFailure && cause.type === NO_WORKER_POLLING) throw new NoWorkerPollingError(read.hostQueue);
    if (cause instanceof ApplicationFailure && cause.type === INVALID_LOG_REQUEST) throw new InvalidTaskLogRequestError(cause.message);
    if (cause instanceof TimeoutFailure) throw new NoWorkerPollingError(read.workflowQueue, `no worker runs workflows on queue ${read.workflowQueue}`);
    throw error;
  }
}

/** The queues a task's log files are on: each item's runsOn, the task's, or the run's own queue. */
function taskQueues(task: TaskStatus, runQueue: string): string[] {
  const queues = new Set<string>();
  for (const item of task.items ?? []) if (item.runsOn) queues.add(item.runsOn);
  if (task.runsOn) queues.add(task.runsOn);
  if (queues.size === 0) queues.add(runQueue);
  return [...queues];
}

/** A task that never started has no log anywhere. */
function started(task: TaskStatus): boolean {
  return task.startedAt !== undefined || (task.state !== 'pending' && task.state !== 'skipped');
}

export interface RunLogsRequest {
  /** `dag/<repo>/<dag>/<key>` or without the `dag/`. */
  runId: string;
  /** Only this task (and its forEach items). */
  taskId?: string;
  /** Where to continue in each file, by name (`next` of an earlier answer). */
  from?: Record<string, number>;
  /** Start of files not named in `from`. */
  offset?: number;
  /** Budget of log text for the whole answer (at most TASK_LOG_MAX_BYTES). */
  maxBytes?: number;
  noWorkerAfterMs?: number;
}

export interface RunLogFile extends TaskLogFileChunk {
  /** Queue of the worker that wrote it. */
  queue: string;
}

export interface RunLogs {
  runId: string;
  /** The run's state when the logs were read: once not `running`, a read that is not `more` has it all. */
  state: RunState;
  files: RunLogFile[];
  /** Log files found on the hosts asked, with or without new text. */
  matched: number;
  /** The budget ran out: ask again with `next` for the rest. */
  more: boolean;
  /** Where to continue, by file name. */
  next: Record<string, number>;
  /** Hosts that could not be asked. */
  unavailable: { queue: string; message: string }[];
}

/**
 * New log text of a run (or of one task) from every host it ran on, within one byte budget. A host
 * that cannot be asked is listed in `unavailable`; the others still answer.
 */
export async function readRunLogs(client: Client, request: RunLogsRequest): Promise<RunLogs> {
  const runId = normaliseRunId(request.runId);
  const maxBytes = request.maxBytes ?? TASK_LOG_MAX_BYTES;
  // Shape first, so a hostile id never reaches Temporal or a worker.
  parseTaskLogRequest({ runId, ...(request.taskId !== undefined ? { taskId: request.taskId } : {}), ...(request.from ? { from: request.from } : {}), ...(request.offset !== undefined ? { offset: request.offset } : {}), maxBytes });
  let workflowQueue: string;
  try {
    workflowQueue = (await client.workflow.getHandle(runId).describe()).taskQueue;
  } catch (error) {
    if ((error as { name?: string }).name === 'WorkflowNotFoundError') throw new RunNotFoundError(`no run "${runId}"; list runs with \`qubinode runs\``);
    throw error;
  }
  const status = await getRunStatus(client, runId);
  const tasks = request.taskId === undefined ? status.tasks : status.tasks.filter((task) => task.id === request.taskId);
  if (request.taskId !== undefined && tasks.length === 0) throw new UnknownLogTaskError(`run ${runId} has no task "${request.taskId}"`);
  const queues = [...new Set(tasks.filter(started).flatMap((task) => taskQueues(task, workflowQueue)))];

  const answer: RunLogs = { runId, state: status.state, files: [], matched: 0, more: false, next: { ...request.from }, unavailable: [] };
  let budget = maxBytes;
  for (const hostQueue of queues) {
    if (budget === 0) {
      answer.more = true;
      break;
    }
    const hostRequest: TaskLogRequest = { runId, ...(request.taskId !== undefined ? { taskId: request.taskId } : {}), from: answer.next, ...(request.offset !== undefined ? { offset: request.offset } : {}), maxBytes: budget };
    try {
      const chunk = await readHostTaskLog(client, { workflowQueue, hostQueue, request: hostRequest, ...(request.noWorkerAfterMs !== undefined ? { noWorkerAfterMs: request.noWorkerAfterMs } : {}) });
      answer.matched += chunk.matched;
      answer.more ||= chunk.more;
      for (const file of chunk.files) {
        // Hosts sharing one log directory (workers on one machine) show the same file: once is enough.
        if (answer.files.some((seen) => seen.name === file.name)) continue;
        answer.files.push({ ...file, queue: hostQueue });
        answer.next[file.name] = file.nextOffset;
        budget -= file.nextOffset - file.offset;
      }
    } catch (error) {
      if (!(error instanceof NoWorkerPollingError)) throw error;
      answer.unavailable.push({ queue: error.queue, message: error.message });
    }
  }
  return answer;
}

/** Splits new text into whole lines, keeping an unfinished last line for the next chunk. */
export function completeLines(pending: string, text: string): { lines: string[]; rest: string } {
  const lines = (pending + text).split('\n');
  const rest = lines.pop() ?? '';
  return { lines, rest };
}
