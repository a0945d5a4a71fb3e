import type { CliContext } from '../context';
import { audited, localUser } from '../local-audit';
import type { CliBackend, DagListing } from './backend';
import type * as Audit from '../../client/audit';
import type * as Identity from '../../client/identity';
import type { IdentityStore, UserRecord } from '../../client/identity';
import type * as Hosts from '../../client/hosts';
import type * as Stats from '../../client/stats';
import type * as Logs from '../../client/logs';
import type * as PrepareRun from '../../client/prepare-run';
import type * as Repos from '../../client/repos';
import type * as RunControl from '../../client/run-control';
import type * as RunIds from '../../client/run-ids';
import type * as Runs from '../../client/runs';
import type * as UiLinks from '../../client/ui-links';

// Each client module loads when a command first asks for it: `qubinode runs` never loads the compiler or the identity store.
const audit = (): typeof Audit => require('../../client/audit') as typeof Audit;
const identity = (): typeof Identity => require('../../client/identity') as typeof Identity;
const hosts = (): typeof Hosts => require('../../client/hosts') as typeof Hosts;
const stats = (): typeof Stats => require('../../client/stats') as typeof Stats;
const logs = (): typeof Logs => require('../../client/logs') as typeof Logs;
const prepareRun = (): typeof PrepareRun => require('../../client/prepare-run') as typeof PrepareRun;
const repos = (): typeof Repos => require('../../client/repos') as typeof Repos;
const runControl = (): typeof RunControl => require('../../client/run-control') as typeof RunControl;
const runIds = (): typeof RunIds => require('../../client/run-ids') as typeof RunIds;
const runs = (): typeof Runs => require('../../client/runs') as typeof Runs;
const uiLinks = (): typeof UiLinks => require('../../client/ui-links') as typeof UiLinks;

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
    let user = change.roles ? await identity().setUserRoles(await store(), name, change.roles) : undefined;
    if (change.disabled !== undefined) user = await identity().setUserDisabled(await store(), name, change.disabled);
    if (!user) throw new Error('give roles or disabled');
    return user;
  };
  return {
    mode: 'direct',
    whoami: async () => ({ user: localUser(), roles: ['admin'], via: 'local' }),

    dags: async (): Promise<DagListing[]> =>
      (await context.catalog()).list().map(({ dag, id, repo, path, commit, description, valid, diagnostics }) => ({ id, repo, path, commit, description, valid, diagnostics, tasks: dag?.tasks.map((task) => task.id) ?? [], params: dag?.params ?? {} })),
    dag: async (id) => prepareRun().findDag(await context.catalog(), context.registry, id, { allowFiles: false }),

    startRun: async ({ dag, params, runKey }) => {
      const started = await audited(
        context,
        { action: 'run.start', target: dag.catalogId },
        async () => runs().startRun(await client(), { dag, params, taskQueue: context.config.taskQueue, startedBy: localUser(), policyWorkflowId: context.config.policy.workflowId, ...(runKey ? { runKey } : {}) }),
        (result) => `started ${result.runId}`,
      );
      return { runId: started.runId, runKey: started.runKey, url: uiLinks().runUrl(context.config.temporal, started.runId) };
    },
    runStatus: async (runId) => runs().getRunStatus(await client(), runId),
    listRuns: async (filter) => runs().listRuns(await client(), filter),
    cancelRun: async (runId) => audited(context, { action: 'run.cancel', target: runIds().normaliseRunId(runId) }, async () => runs().cancelRun(await client(), runId)),
    runLogs: async (request) => logs().readRunLogs(await client(), request),
    runUrl: (runId) => uiLinks().runUrl(context.config.temporal, runId),

    decideApproval: async (runId, { taskId, approve, comment, forWhom }) => {
      const who = acting(forWhom);
      return audited(
        context,
        { action: approve ? 'approval.approve' : 'approval.reject', target: `${runIds().normaliseRunId(runId)} ${taskId}`, ...onBehalfOf(who), ...(comment ? { detail: comment } : {}) },
        async () => runControl().decideApproval(await client(), runId, { taskId, approve, ...who, ...(comment ? { comment } : {}) }),
      );
    },
    abortRun: async (runId, { reason, forWhom }) => {
      const who = acting(forWhom);
      return audited(
        context,
        { action: 'run.abort', target: runIds().isRolloutId(runId) ? runId : runIds().normaliseRunId(runId), ...onBehalfOf(who), ...(reason ? { detail: reason } : {}) },
        async () => runControl().abortRun(await client(), runId, { ...who, ...(reason ? { reason } : {}) }),
      );
    },
    retryRun: async (runId, { from }) =>
      audited(
        context,
        { action: 'run.retry', target: runIds().normaliseRunId(runId), ...(from ? { detail: `from ${from}` } : {}) },
        async () => runControl().retryRun(await client(), runId, { startedBy: localUser(), ...(from ? { from } : {}) }),
        (result) => `started ${result.runId}`,
      ),
    rollbackRun: async (runId, { forWhom }) => {
      const who = acting(forWhom);
      return audited(context, { action: 'run.rollback', target: runIds().normaliseRunId(runId), ...onBehalfOf(who) }, async () => runControl().rollbackRun(await client(), runId, who), (result) => `rollback ${result.state}`);
    },
    rolloutProgress: async (rolloutId) => runControl().rolloutProgress(await client(), rolloutId),

    repos: async () => repos().listRepos(await client()),
    repo: async (name) => repos().getRepo(await client(), name),
    syncRepo: async (name) => audited(context, { action: 'repo.sync', target: name }, async () => repos().syncAndWait(await client(), name), (result) => `${result.state} ${result.commit.slice(0, 12)}`.trim()),

    hosts: async () => hosts().listHosts(await client()),
    runStats: async (request) => stats().readRunStats(await client(), request),

    audit: async (filter) => audit().listAuditWithNotes(await client(), filter),

    users: async () => (await identity().readIdentity(await store())).users,
    addUser: async (name, roles) => audited(context, { action: 'user.add', target: `user/${name}` }, async () => identity().addUser(await store(), name, roles), (record) => `roles ${record.roles.join(',')}`),
    changeUser: async (name, change) =>
      audited(
        context,
        { action: 'user.change', target: `user/${name}`, ...(change.disabled !== undefined ? { detail: change.disabled ? 'disable' : 'enable' } : {}) },
        () => changeUser(name, change),
        (record) => (change.roles ? `roles ${record.roles.join(',')}` : undefined),
      ),
    removeUser: async (name) => audited(context, { action: 'user.remove', target: `user/${name}` }, async () => identity().removeUser(await store(), name), (result) => `revoked tokens ${result.revokedTokens.join(',') || 'none'}`),
    tokens: async (filter) => identity().tokenViews(await identity().readIdentity(await store()), filter),
    issueToken: async ({ user, lifetime, description }) => {
      const issued = await audited(
        context,
        { action: 'token.issue', target: `user/${user}` },
        async () => identity().issueToken(await store(), { user, lifetime, ...(description ? { description } : {}) }),
        (result) => `token ${result.record.id} expires ${result.record.expires}`,
      );
      const { hash: _hash, ...record } = issued.record;
      return { record, token: issued.token };
    },
    revokeToken: async (id) => {
      const { hash: _hash, ...record } = await audited(context, { action: 'token.revoke', target: `token/${id}` }, async () => identity().revokeToken(await store(), id), (revoked) => `of user ${revoked.user}`);
      return record;
    },
  };
}
