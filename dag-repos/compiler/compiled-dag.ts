import type { ActionExecution } from '../actions/registry';
import type { ParamSpec, TriggerRule } from '../schema/dag-spec';
import type { DagTriggers } from '../schema/triggers';
import type { NotifyChannel, RollbackMode } from '../schema/rollback-notify';
import type { RepoCredentialEnv } from '../schema/repo-config';
import type { MaintenanceWindow } from '../schema/maintenance-window';
import type { SecretRef } from './secret-references';

/**
 * What the dagRun workflow receives: a checked, self-contained plan pinned to one commit.
 * Plain JSON, so it travels through Temporal history unchanged.
 */

export interface RetryPlan {
  maximumAttempts: number;
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs?: number;
}

export interface CompiledActionCall {
  action: string;
  execution: ActionExecution;
  /** Inputs with `${{ }}` templates still in place; rendered when the task starts. */
  with: Record<string, unknown>;
  nonRetryableErrors: string[];
  heartbeatTimeoutMs?: number;
  defaultTimeoutMs: number;
  /** Secret references written literally by the DAG author in `with`; the only ones an activity resolves. Absent in plans compiled before they were recorded: nothing is resolved. */
  secretRefs?: SecretRef[];
}

/** An action a rollout runs itself (an analysis check, a blue-green hook), pinned with the plan; its inputs stay in the rollout's `with`. */
export type PinnedAction = Omit<CompiledActionCall, 'with' | 'secretRefs'>;

export interface CompiledTask extends CompiledActionCall {
  id: string;
  name?: string;
  needs: string[];
  when?: string | boolean;
  trigger: TriggerRule;
  retry: RetryPlan;
  timeoutMs?: number;
  forEach?: string | unknown[];
  runsOn?: string;
  compensate?: CompiledActionCall;
  /** For `uses: dag`: key into CompiledDag.children. */
  childDag?: string;
  /** For `uses: rollout`: its checks' and hooks' actions by name. Absent in plans compiled before they were pinned. */
  rolloutActions?: Record<string, PinnedAction>;
}

export interface DagOrigin {
  repo: string;
  /** Path of the DAG file inside its repository. */
  path: string;
  commit: string;
  /** Where the repository is fetched from, for DAGs synced from Git (workers check the commit out by SHA). */
  url?: string;
  /** Names (never values) of the environment variables holding the repository's credentials on workers. */
  credentialEnv?: RepoCredentialEnv;
}

export interface CompiledHosts {
  exclusive: boolean;
  workerWaitMs: number;
  workerWaitForMs: Record<string, number>;
}

export interface CompiledDag {
  /** Catalog id: `<repo>/<dag id>`. */
  catalogId: string;
  id: string;
  description: string;
  origin: DagOrigin;
  params: Record<string, ParamSpec>;
  /** Topological order; ties keep file order. */
  tasks: CompiledTask[];
  concurrency: number;
  timeoutMs?: number;
  labels: Record<string, string>;
  /** Pushes, schedules and webhooks that start this DAG. */
  triggers?: DagTriggers;
  /** What a failed or aborted run does with `compensate` actions (absent: none). */
  rollback?: RollbackMode;
  notify?: NotifyChannel[];
  /** A run's tasks start only inside this window. */
  maintenanceWindow?: MaintenanceWindow;
  /** Host handling (absent in plans compiled before it existed: the defaults apply). */
  hosts?: CompiledHosts;
  /** Sub-DAGs called with `uses: dag`, compiled and pinned with this one. */
  children: Record<string, CompiledDag>;
}
