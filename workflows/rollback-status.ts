// Declared beside the channels it goes to, so the notify activity types its input without workflows/.
export type { NotifyRequest } from '../dag-repos/schema/rollback-notify';
import type { TaskFailureType } from '../dag-repos/actions/failure-types';

/** Status records of approvals, rollbacks and rollouts (issue 5). Plain data, like run-status.ts. */

export type ApprovalState = 'waiting' | 'approved' | 'rejected';

export interface ApprovalRecord {
  taskId: string;
  state: ApprovalState;
  message?: string;
  /** Who may decide; empty means anyone. */
  approvers: string[];
  requestedAt: string;
  /** When the gate decides by itself, and how. */
  timeoutAt?: string;
  onTimeout?: 'approve' | 'reject';
  decidedAt?: string;
  /** The authenticated person who decided, or "timeout". */
  by?: string;
  /** The approver `by` acted for, when an admin decided for someone else. */
  onBehalfOf?: string;
  comment?: string;
  timedOut?: boolean;
}

/** What set a rollback off. */
export type RollbackTrigger = 'task-failure' | 'failure-threshold' | 'health-check' | 'error-rate' | 'step-timeout' | 'manual-abort' | 'manual';

export interface CompensationRecord {
  taskId: string;
  action: string;
  /** The rollout target whose step this compensation undoes. */
  target?: string;
  /** The forEach item this compensation undoes (each item is undone on its own). */
  itemIndex?: number;
  /** skipped: the task found the resource already there (outputs.created false), so the rollback left it. */
  state: 'succeeded' | 'failed' | 'skipped';
  startedAt: string;
  endedAt: string;
  runsOn?: string;
  summary?: string;
  /** Same shape as TaskError in run-status.ts (not imported: run-status imports this file). */
  error?: { type: TaskFailureType; reportedType?: string; message: string; retryable: boolean };
}

export interface RollbackRecord {
  mode: 'auto' | 'manual';
  trigger: RollbackTrigger;
  /** One line: which task failed, which check, who aborted. */
  reason: string;
  state: 'running' | 'succeeded' | 'failed';
  startedAt: string;
  endedAt?: string;
  compensations: CompensationRecord[];
}

/** Who asked a run to stop and roll back. */
export interface AbortRequest {
  by: string;
  /** The person `by` acted for, when an admin aborted for someone else. */
  onBehalfOf?: string;
  reason?: string;
}

export type RolloutTargetState = 'pending' | 'updating' | 'updated' | 'failed' | 'rolling-back' | 'rolled-back' | 'rollback-failed';

export interface RolloutTargetStatus {
  name: string;
  queue: string;
  /** 1-based batch the target belongs to. */
  batch: number;
  state: RolloutTargetState;
  /** Workflow id of the target's step run. */
  childRunId?: string;
  startedAt?: string;
  endedAt?: string;
  error?: string;
  compensations?: CompensationRecord[];
}

export interface RolloutAnalysis {
  batch: number;
  samples: number;
  failures: number;
  passed: boolean;
  /** First failure, one line. */
  firstFailure?: string;
}

export interface RolloutProgress {
  rolloutId: string;
  strategy: string;
  state: 'running' | 'waiting' | 'succeeded' | 'rolled-back' | 'failed';
  /** blue-green: prepare, verify, switch, window, released, switched-back. */
  phase?: string;
  /** Current batch, 1-based (0 before the first). */
  batch: number;
  batches: number;
  done: number;
  failed: number;
  targets: RolloutTargetStatus[];
  analyses: RolloutAnalysis[];
  rollback?: { trigger: RollbackTrigger; reason: string; at: string; order: string[] };
  approvals: ApprovalRecord[];
}

