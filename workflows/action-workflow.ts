import type { ActionInvocation } from '../dag-repos/actions/action-types';
import type { SecretRef } from '../dag-repos/compiler/secret-references';

/**
 * The input of every workflow that carries out an action of execution kind `workflow`: one task (or one
 * forEach item) of a run. The workflow runs on the run's own queue; `host` is where its tools must run.
 */
export interface ActionWorkflowInput {
  runId: string;
  runKey: string;
  dagId: string;
  taskId: string;
  itemIndex?: number;
  /** The queue the task's `runsOn` named (rendered), or the run's own queue when it has none. */
  host: string;
  /** The run's own queue: this workflow's queue and the one for control-plane activities. */
  controlQueue: string;
  /** The task's inputs, templates rendered. Validate before use: they come from a DAG file. */
  with: Record<string, unknown>;
  source: NonNullable<ActionInvocation['source']>;
  /** Author-written secret references of the task, resolved only inside activities. */
  secretRefs?: SecretRef[];
  /** The task's own limits, for the activities this workflow runs on the host. */
  timeoutMs: number;
  heartbeatTimeoutMs?: number;
}

/** What such a workflow returns: the task's outputs and a one-line summary. A failure is thrown. */
export interface ActionWorkflowResult {
  outputs: Record<string, unknown>;
  summary: string;
}

