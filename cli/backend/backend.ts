import type { AuditEntry } from '../../client/audit';
import type { Role, TokenRecord, TokenView, UserRecord } from '../../client/identity';
import type { HostView } from '../../client/hosts';
import type { RunStats } from '../../client/run-stats';
import type { StatsRequest } from '../../client/stats';
import type { RunLogs, RunLogsRequest } from '../../client/logs';
import type { RunFilter, RunSummary } from '../../client/runs';
import type { CatalogEntry } from '../../client/catalog';
import type { CompiledDag } from '../../client/prepare-run';
import type { RepoView, SyncRecord } from '../../client/repos';
import type { ParamSpec } from '../../client/run-params';
import type { ApprovalRecord, DagRunStatus, RollbackRecord, RolloutProgress } from '../../client/workflow-views';

/**
 * What the CLI's commands ask for, answered either by Temporal directly (admins on the control
 * plane) or by the Navigator API with a personal token (QUBINODE_API_URL). Commands format the
 * answers once, whichever side gave them.
 */
export interface CliBackend {
  readonly mode: 'direct' | 'api';
  /** Who the CLI acts as. */
  whoami(): Promise<Identity>;

  dags(): Promise<DagListing[]>;
  /** A compiled catalog DAG (file paths are compiled locally by the caller). */
  dag(id: string): Promise<CompiledDag>;

  /** `params` are resolved (defaults applied); `given` names those the caller set, all the API is sent (it applies defaults itself). */
  startRun(request: { dag: CompiledDag; params: Record<string, unknown>; given: readonly string[]; runKey?: string }): Promise<StartedRunView>;
  runStatus(runId: string): Promise<DagRunStatus>;
  listRuns(filter: RunFilter): Promise<RunSummary[]>;
  cancelRun(runId: string): Promise<string>;
  /** New log text of a run's tasks, read on the worker of each host they ran on. */
  runLogs(request: RunLogsRequest): Promise<RunLogs>;
  /** Link to the run in the Temporal Web UI, when this side knows where that is. */
  runUrl(runId: string): string | undefined;

  decideApproval(runId: string, decision: { taskId: string; approve: boolean; comment?: string; forWhom?: string }): Promise<ApprovalRecord>;
  abortRun(runId: string, request: { reason?: string; forWhom?: string }): Promise<string>;
  retryRun(runId: string, request: { from?: string }): Promise<{ runId: string; reused: string[] }>;
  rollbackRun(runId: string, request: { forWhom?: string }): Promise<RollbackRecord>;
  rolloutProgress(rolloutId: string): Promise<RolloutProgress>;

  repos(): Promise<RepoView[]>;
  repo(name: string): Promise<RepoView>;
  syncRepo(name: string): Promise<SyncRecord>;

  /** Every known host queue with its pollers now, worker report and state. */
  hosts(): Promise<HostView[]>;
  /** Run analytics per DAG over a window (client/stats.ts). */
  runStats(request: StatsRequest): Promise<RunStats>;

  audit(filter: { since?: Date; user?: string; action?: string; limit: number }): Promise<{ entries: AuditEntry[]; dropped: { shard: string; count: number }[] }>;

  users(): Promise<UserRecord[]>;
  addUser(name: string, roles: Role[]): Promise<UserRecord>;
  changeUser(name: string, change: { roles?: Role[]; disabled?: boolean }): Promise<UserRecord>;
  removeUser(name: string): Promise<{ removed: string; revokedTokens: string[] }>;
  tokens(filter: { user?: string }): Promise<TokenView[]>;
  issueToken(request: { user: string; lifetime: string; description?: string }): Promise<{ record: Omit<TokenRecord, 'hash'>; token: string }>;
  revokeToken(id: string): Promise<Omit<TokenRecord, 'hash'>>;
}

export interface Identity {
  user: string;
  roles: string[];
  /** token, oidc, bootstrap (through the API) or local (Temporal directly). */
  via: string;
}

/** One catalog entry as `qubinode dag list` shows it (as GET /api/dags answers it); `tasks` are the task ids of a valid DAG. */
export type DagListing = Omit<CatalogEntry, 'absolutePath' | 'dag'> & { tasks: string[]; params: Record<string, ParamSpec> };

export interface StartedRunView {
  runId: string;
  runKey: string;
  url?: string;
}

export type { TokenView };
