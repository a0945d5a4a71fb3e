import type { ApiClient } from '../../client/api-client';
import { formatLogCursor } from '../../client/log-cursor';
import type { RunLogs } from '../../client/logs';
import { isRolloutId, normaliseRunId } from '../../client/run-ids';
import type { HostView } from '../../client/hosts';
import { RunStats } from '../../client/run-stats';
import type { CompiledDag } from '../../client/prepare-run';
import type { RepoView, SyncRecord } from '../../client/repos';
import type { ApprovalRecord, DagRunStatus, RollbackRecord, RolloutProgress } from '../../client/workflow-views';
import * as answers from './api-answers';
import type { CliBackend, DagListing } from './backend';

/** Run, DAG and rollout ids hold slashes: each part travels as its own path segment. */
const parts = (id: string): string[] => id.split('/');

/** A rollback or a sync waits for its result on the server. */
const SLOW_MS = 30 * 60_000;

/**
 * The Navigator API with the caller's token. The server is the actor's judge: it records every
 * change in the audit trail under the token's user, so nothing is recorded here.
 */
export function apiBackend(api: ApiClient): CliBackend {
  const forWhom = (name: string | undefined): { onBehalfOf?: string } => (name ? { onBehalfOf: name } : {});
  return {
    mode: 'api',
    whoami: () => api.call({ method: 'GET', path: ['api', 'whoami'] }, answers.IdentityAnswer),

    // Diagnostic codes are a closed union the server owns; the CLI only prints them.
    dags: async () => (await api.call({ method: 'GET', path: ['api', 'dags'] }, answers.DagListingAnswer)) as unknown as DagListing[],
    dag: async (id) => (await api.call({ method: 'GET', path: ['api', 'dags', ...parts(id)] }, answers.CompiledDagAnswer)) as unknown as CompiledDag,

    startRun: async ({ dag, params, given, runKey }) => {
      const sent = Object.fromEntries(Object.entries(params).filter(([name]) => given.includes(name)));
      const started = await api.call({ method: 'POST', path: ['api', 'runs'], body: { dag: dag.catalogId, params: sent, ...(runKey ? { runKey } : {}) } }, answers.StartedAnswer);
      return { runId: started.runId, runKey: started.runId.split('/').at(-1) ?? '', ...(started.url ? { url: started.url } : {}) };
    },
    runStatus: async (runId) => (await api.call({ method: 'GET', path: ['api', 'runs', ...parts(normaliseRunId(runId))] }, answers.RunStatusAnswer)) as unknown as DagRunStatus,
    listRuns: (filter) =>
      api.call({ method: 'GET', path: ['api', 'runs'], query: { dag: filter.dag, status: filter.status, startedBy: filter.startedBy, limit: filter.limit } }, answers.RunListAnswer),
    cancelRun: async (runId) => (await api.call({ method: 'POST', path: ['api', 'runs', ...parts(normaliseRunId(runId)), 'cancel'] }, answers.RunIdAnswer)).runId,
    runLogs: async ({ runId, taskId, from, offset, maxBytes }) =>
      (await api.call(
        { method: 'GET', path: ['api', 'runs', ...parts(normaliseRunId(runId)), 'logs'], query: { task: taskId, from: from ? formatLogCursor(from) : undefined, offset, maxBytes } },
        answers.RunLogsAnswer,
      )) as RunLogs,
    // The API names the Web UI link when it starts a run; it is not guessed from this machine's settings.
    runUrl: () => undefined,

    decideApproval: async (runId, { taskId, approve, comment, forWhom: name }) =>
      (await api.call(
        { method: 'POST', path: ['api', 'approvals'], body: { run: normaliseRunId(runId), task: taskId, decision: approve ? 'approve' : 'reject', ...(comment ? { comment } : {}), ...forWhom(name) } },
        answers.ApprovalAnswer,
      )) as unknown as ApprovalRecord,
    abortRun: async (runId, { reason, forWhom: name }) =>
      (await api.call({ method: 'POST', path: ['api', 'aborts'], body: { run: isRolloutId(runId) ? runId : normaliseRunId(runId), ...(reason ? { reason } : {}), ...forWhom(name) } }, answers.RunIdAnswer)).runId,
    retryRun: (runId, { from }) => api.call({ method: 'POST', path: ['api', 'retries'], body: { run: normaliseRunId(runId), ...(from ? { from } : {}) } }, answers.RetryAnswer),
    rollbackRun: async (runId, { forWhom: name }) =>
      (await api.call({ method: 'POST', path: ['api', 'rollbacks'], body: { run: normaliseRunId(runId), ...forWhom(name) }, timeoutMs: SLOW_MS }, answers.RollbackAnswer)) as unknown as RollbackRecord,
    rolloutProgress: async (rolloutId) => (await api.call({ method: 'GET', path: ['api', 'rollouts', ...parts(rolloutId.replace(/^rollout\//, ''))] }, answers.RolloutAnswer)) as unknown as RolloutProgress,

    repos: async () => (await api.call({ method: 'GET', path: ['api', 'repos'] }, answers.RepoListAnswer)) as unknown as RepoView[],
    repo: async (name) => (await api.call({ method: 'GET', path: ['api', 'repos', name] }, answers.RepoAnswer)) as unknown as RepoView,
    syncRepo: async (name) => (await api.call({ method: 'POST', path: ['api', 'repos', name, 'sync'], timeoutMs: SLOW_MS }, answers.SyncAnswer)) as unknown as SyncRecord,

    hosts: async () => (await api.call({ method: 'GET', path: ['api', 'hosts'] }, answers.HostsAnswer)) as unknown as HostView[],
    runStats: ({ dag, since }) => api.call({ method: 'GET', path: ['api', 'stats'], query: { dag, since } }, RunStats),

    audit: async ({ since, user, action, limit }) => ({ entries: await api.call({ method: 'GET', path: ['api', 'audit'], query: { since: since?.toISOString(), user, action, limit } }, answers.AuditAnswer), dropped: [] }),

    users: () => api.call({ method: 'GET', path: ['api', 'users'] }, answers.UsersAnswer),
    addUser: (name, roles) => api.call({ method: 'POST', path: ['api', 'users'], body: { name, roles } }, answers.UserAnswer),
    changeUser: (name, change) => api.call({ method: 'PATCH', path: ['api', 'users', name], body: change }, answers.UserAnswer),
    removeUser: (name) => api.call({ method: 'DELETE', path: ['api', 'users', name] }, answers.RemovedUserAnswer),
    tokens: ({ user }) => api.call({ method: 'GET', path: ['api', 'tokens'], query: { user } }, answers.TokensAnswer),
    issueToken: async ({ user, lifetime, description }) => {
      const { token, ...record } = await api.call({ method: 'POST', path: ['api', 'tokens'], body: { user, expires: lifetime, ...(description ? { description } : {}) } }, answers.IssuedTokenAnswer);
      return { record, token };
    },
    revokeToken: (id) => api.call({ method: 'DELETE', path: ['api', 'tokens', id] }, answers.TokenAnswer),
  };
}
