import type { z } from 'zod';
import type { FailureType } from './failure-types';

/** How the interpreter carries out an action. A closed union: the workflow switches on it exhaustively. */
export type ActionExecution =
  | { kind: 'activity'; activity: string }
  | { kind: 'timer' }
  | { kind: 'child-dag' }
  | { kind: 'approval' }
  | { kind: 'rollout' }
  /**
   * A workflow of several steps across queues (e.g. reboot a host and wait for its worker): started as a
   * child workflow on the run's own queue with an ActionWorkflowInput (workflows/action-workflow.ts).
   */
  | {
      kind: 'workflow';
      workflow: string;
      /** The activities this workflow runs on the task's host: each host's policy gate counts them as this action. */
      hostActivities?: readonly string[];
    };

export interface ActionDefinition {
  name: string;
  description: string;
  input: z.ZodType;
  execution: ActionExecution;
  /** ApplicationFailure types that retrying cannot fix. */
  nonRetryableErrors: readonly string[];
  /** Activities that heartbeat get this heartbeat timeout so a dead worker is noticed. */
  heartbeatTimeoutMs?: number;
  /** Limit of one attempt when the task sets no timeout. */
  defaultTimeoutMs: number;
}

/**
 * The failure type of an attempt whose worker died under it: reported by the next worker on the host (or the
 * worker shutting down), never by the task itself; the run runs the task again apart from its `retry:` budget.
 */
export const WORKER_LOST = 'WorkerLost' satisfies FailureType;
