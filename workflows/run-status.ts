/** The state a DAG run reports: through the status query, its result, and the CLI/API. Plain data. */

export const TASK_STATES = ['pending', 'running', 'waiting', 'succeeded', 'failed', 'skipped', 'cancelled'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const TERMINAL_TASK_STATES: readonly TaskState[] = ['succeeded', 'failed', 'skipped', 'cancelled'];

export type RunState = 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface TaskError {
  /** ApplicationFailure type (e.g. CommandFailed, HealthCheckFailed), or Timeout / Cancelled / ExpressionError. */
  type: string;
  message: string;
  retryable: boolean;
  /** Small facts from the failure: exit code, tails of output, log path. */
  details?: Record<string, unknown>;
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
}

export interface TaskStatus {
  id: string;
  name?: string;
  action: string;
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
}

export function isTerminal(state: TaskState): boolean {
  return TERMINAL_TASK_STATES.includes(state);
}

export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}
