import type { z } from 'zod';

/** How the interpreter carries out an action. A closed union: the workflow switches on it exhaustively. */
export type ActionExecution =
  | { kind: 'activity'; activity: string }
  | { kind: 'timer' }
  | { kind: 'child-dag' }
  | { kind: 'approval' }
  | { kind: 'rollout' };

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

/** Failure types no action can fix by retrying. */
export const COMMON_NON_RETRYABLE = ['InvalidActionInput', 'SecretNotFound'] as const;
