import type { FailureAnalysis } from '../dag-repos/actions/failure-analysis';
import type { TaskFailureType } from '../dag-repos/actions/failure-types';
import type { ApprovalRecord, RollbackRecord } from './rollback-status';

/** The state a DAG run reports: through the status query, its result, and the CLI/API. Plain data. */

export const TASK_STATES = ['pending', 'running', 'waiting', 'succeeded', 'failed', 'skipped', 'cancelled'] as const;
export type TaskState = (typeof TASK_STATES)[number];

/** One symbol per state, shared by the Web UI details and the CLI. */
export const TASK_STATE_ICON: Record<TaskState, string> = {
  pending: '○',
  running: '▶',
  waiting: '⏸',
  succeeded: '✔',
  failed: '✖',
  skipped: '↷',
  cancelled: '■',
};

export const TERMINAL_TASK_STATES: readonly TaskState[] = ['succeeded', 'failed', 'skipped', 'cancelled'];

export type RunState = 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface TaskError {
  /** What failed, from one closed list: an action's failure type (CommandFailed, HealthCheckFailed, …) or the engine's (Timeout, Cancelled, …). */
  type: TaskFailureType;
  /** The name the failure reported when it is none of the list's (a plugin's own type, a JavaScript error): type is then Unclassified. */
  reportedType?: string;
  message: string;
  retryable: boolean;
  /** Small facts from the failure: exit code, tails of output, log path. */
  details?: Record<string, unknown>;
}

/** The name to show for a task's failure: the one it reported, where the closed list has no entry for it. */
export function failureName(error: Pick<TaskError, 'type' | 'reportedType'>): string {
  return error.reportedType ?? error.type;
}

export interface ItemStatus {
  index: number;
  /** The item, as short JSON. */
  label: string;
  state: TaskState;
  attempt: number;
  /** Task queue of this item, when the task has runsOn (it may differ per item). */
  runsOn?: string;
  outputs?: Record<string, unknown>;
  error?: TaskError;
  /** AI analysis of this failed item (added by the client from its analyzeFailure workflow). */
  analysis?: FailureAnalysis;
  analysisPending?: boolean;
}

export interface TaskStatus {
  id: string;
  name?: string;
  action: string;
  /** The tasks this one waits for (the DAG's edges, so a status alone can be drawn as a graph). */
  needs?: string[];
  state: TaskState;
  /** Attempts made so far by the last execution (1 for the first try). */
  attempt: number;
  startedAt?: string;
  endedAt?: string;
  /** Why a task was skipped or cancelled. */
  reason?: string;
  summary?: string;
  outputs?: Record<string, unknown>;
  error?: TaskError;
  items?: ItemStatus[];
  runsOn?: string;
  logPath?: string;
  childRunId?: string;
  /** Set when a retry run took this task's recorded result from an earlier run instead of running it. */
  reusedFrom?: string;
  /** AI analysis of this failed task, added by the client from its analyzeFailure workflow once that has ended. */
  analysis?: FailureAnalysis;
  /** True while that analysis is still running. */
  analysisPending?: boolean;
}

export interface DagRunStatus {
  runId: string;
  runKey: string;
  dagId: string;
  repo: string;
  commit: string;
  state: RunState;
  startedAt: string;
  endedAt?: string;
  /** Params with secret values masked. */
  params: Record<string, unknown>;
  progress: { done: number; total: number };
  tasks: TaskStatus[];
  /** Set when a run ended early: cancelled by a user or timed out. */
  reason?: string;
  /** Approval gates of this run: who decided, when and why. */
  approvals?: ApprovalRecord[];
  /** Compensations run after a failure or an abort. */
  rollback?: RollbackRecord;
  /** The run this one retries (qubinode retry). */
  retryOf?: string;
  /** Set while the run waits for a host another run holds (one job per host). */
  waitingForHost?: { host: string; heldBy?: string; since?: string };
  /** Set while the run waits for its DAG's maintenance window: when it opens (ISO time). */
  waitingForWindow?: string;
}

export function isTerminal(state: TaskState): boolean {
  return TERMINAL_TASK_STATES.includes(state);
}

export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}
