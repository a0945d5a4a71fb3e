import { listAuditWithNotes } from '../../client/audit';
import { addUser, issueToken, readIdentity, removeUser, revokeToken, setUserDisabled, setUserRoles, tokenViews, type IdentityStore, type UserRecord } from '../../client/identity';
import { listHosts } from '../../client/hosts';
import { readRunStats } from '../../client/stats';
import { readRunLogs } from '../../client/logs';
import { findDag } from '../../client/prepare-run';
import { getRepo, listRepos, syncAndWait } from '../../client/repos';
import { abortRun, decideApproval, retryRun, rollbackRun, rolloutProgress } from '../../client/run-control';
import { isRolloutId, normaliseRunId } from '../../client/run-ids';
import { cancelRun, getRunStatus, listRuns, startRun } from '../../client/runs';
import { runUrl } from '../../client/ui-links';
import type { CliContext } from '../context';
import { audited, localUser } from '../local-audit';
import type { CliBackend, DagListing } from './backend';

/**
 * Who acts: always the OS user logged in here (direct Temporal access is an admin's). `forWhom`
 * (`--as` or QUBINODE_USER) is recorded as onBehalfOf and checked against the approvers; it never
 * replaces who acted.
 */
function acting(forWhom: string | undefined): { by: string; onBehalfOf?: string } {
  const by = localUser();
  return forWhom && forWhom !== by ? { by, onBehalfOf: forWhom } : { by };
}

function onBehalfOf(who: { onBehalfOf?: string }): { onBehalfOf?: string } {
  return who.onBehalfOf ? { onBehalfOf: who.onBehalfOf } : {};
}

/** Temporal itself: every state change is audited here, as the OS user, via `local`. */
export function directBackend(context: CliContext): CliBackend {
  const client = async () => (await context.temporal()).client;
  const store = async (): Promise<IdentityStore> => ({ client: await client(), workflowId: context.config.identity.workflowId, taskQueue: context.config.taskQueue });
  const changeUser = async (name: string, change: { roles?: string[]; disabled?: boolean }): Promise<UserRecord> => {
    let user = change.roles ? await setUserRoles(await store(), name, change.roles) : undefined;
    if (change.disabled !== undefined) user = await setUserDisabled(await store(), name, change.disabled);
    if (!user) throw new Error('give roles or disabled');
    return user;
  };
  return {
    mode: 'direct',
    whoami: async () => ({ user: localUser(), roles: ['admin'], via: 'local' }),

    dags: async (): Promise<DagListing[]> =>
      (await context.catalog()).list().map(({ dag, id, repo, path, commit, description, valid, diagnostics }) => ({ id, repo, path, commit, description, valid, diagnostics, tasks: dag?.tasks.map((task) => task.id) ?? [], params: dag?.params ?? {} })),
    dag: async (id) => findDag(await context.catalog(), context.registry, id, { allowFiles: false }),

    startRun: async ({ dag, params, runKey }) => {
      const started = await audited(
        context,
        { action: 'run.start', target: dag.catalogId },
        async () => startRun(await client(), { dag, params, taskQueue: context.config.taskQueue, startedBy: localUser(), policyWorkflowId: context.config.policy.workflowId, ...(runKey ? { runKey } : {}) }),
        (result) => `started ${result.runId}`,
      );
      return { runId: started.runId, runKey: started.runKey, url: runUrl(context.config.temporal, started.runId) };
    },
    runStatus: async (runId) => getRunStatus(await client(), runId),
    listRuns: async (filter) => listRuns(await client(), filter),
    cancelRun: async (runId) => audited(context, { action: 'run.cancel', target: normaliseRunId(runId) }, async () => cancelRun(await client(), runId)),
    runLogs: async (request) => readRunLogs(await client(), request),
    runUrl: (runId) => runUrl(context.config.temporal, runId),

    decideApproval: async (runId, { taskId, approve, comment, forWhom }) => {
      const who = acting(forWhom);
      return audited(
        context,
        { action: approve ? 'approval.approve' : 'approval.reject', target: `${normaliseRunId(runId)} ${taskId}`, ...onBehalfOf(who), ...(comment ? { detail: comment } : {}) },
        async () => decideApproval(await client(), runId, { taskId, approve, ...who, ...(comment ? { comment } : {}) }),
      );
    },
    abortRun: async (runId, { reason, forWhom }) => {
      const who = acting(forWhom);
      return audited(
        context,
        { action: 'run.abort', target: isRolloutId(runId) ? runId : normaliseRunId(runId), ...onBehalfOf(who), ...(reason ? { detail: reason } : {}) },
        async () => abortRun(await client(), runId, { ...who, ...(reason ? { reason } : {}) }),
      );
    },
    retryRun: async (runId, { from }) =>
      audited(
        context,
        { action: 'run.retry', target: normaliseRunId(runId), ...(from ? { detail: `from ${from}` } : {}) },
        async () => retryRun(await client(), runId, { startedBy: localUser(), ...(from ? { from } : {}) }),
        (result) => `started ${result.runId}`,
      ),
    rollbackRun: async (runId, { forWhom }) => {
      const who = acting(forWhom);
      return audited(context, { action: 'run.rollback', target: normaliseRunId(runId), ...onBehalfOf(who) }, async () => rollbackRun(await client(), runId, who), (result) => `rollback ${result.state}`);
    },
    rolloutProgress: async (rolloutId) => rolloutProgress(await client(), rolloutId),

    repos: async () => listRepos(await client()),
    repo: async (name) => getRepo(await client(), name),
    syncRepo: async (name) => audited(context, { action: 'repo.sync', target: name }, async () => syncAndWait(await client(), name), (result) => `${result.state} ${result.commit.slice(0, 12)}`.trim()),

    hosts: async () => listHosts(await client()),
    runStats: async (request) => readRunStats(await client(), request),

    audit: async (filter) => listAuditWithNotes(await client(), filter),

    users: async () => (await readIdentity(await store())).users,
    addUser: async (name, roles) => audited(context, { action: 'user.add', target: `user/${name}` }, async () => addUser(await store(), name, roles), (record) => `roles ${record.roles.join(',')}`),
    changeUser: async (name, change) =>
      audited(
        context,
        { action: 'user.change', target: `user/${name}`, ...(change.disabled !== undefined ? { detail: change.disabled ? 'disable' : 'enable' } : {}) },
        () => changeUser(name, change),
        (record) => (change.roles ? `roles ${record.roles.join(',')}` : undefined),
      ),
    removeUser: async (name) => audited(context, { action: 'user.remove', target: `user/${name}` }, async () => removeUser(await store(), name), (result) => `revoked tokens ${result.revokedTokens.join(',') || 'none'}`),
    tokens: async (filter) => tokenViews(await readIdentity(await store()), filter),
    issueToken: async ({ user, lifetime, description }) => {
      const issued = await audited(
        context,
        { action: 'token.issue', target: `user/${user}` },
        async () => issueToken(await store(), { user, lifetime, ...(description ? { description } : {}) }),
        (result) => `token ${result.record.id} expires ${result.record.expires}`,
      );
      const { hash: _hash, ...record } = issued.record;
      return { record, token: issued.token };
    },
    revokeToken: async (id) => {
      const { hash: _hash, ...record } = await audited(context, { action: 'token.revoke', target: `token/${id}` }, async () => revokeToken(await store(), id), (revoked) => `of user ${revoked.user}`);
      return record;
    },
  };
}
