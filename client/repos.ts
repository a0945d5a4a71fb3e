import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { RepoConfig, guessForge, type RepoConfigInput } from '../dag-repos/schema/repo-config';
import type { RepoView, SyncRecord } from '../dag-repos/schema/sync-types';
import type { SyncRequestArgs, SyncRequestReply } from '../workflows/repo-sync';
import { zodProblems } from '../config/zod-problems';
import { repoWorkflowId } from '../workflows/workflow-ids';

// The API reaches workflows only through the client: the push front door builds this signal's payload.
export type { SyncRequestArgs };
// A repository and its syncs as the CLI prints them.
export type { RepoView, SyncRecord };

export class RepoError extends Error {
  override readonly name = 'RepoError';
}

export { repoWorkflowId };

function validate(input: RepoConfigInput): RepoConfig {
  const parsed = RepoConfig.safeParse({ ...input, forge: input.forge ?? guessForge(input.url) });
  if (!parsed.success) throw new RepoError(`invalid repository settings:\n${zodProblems(parsed.error, 'repo', '  ').join('\n')}`);
  return parsed.data;
}

/** Registers a repository: starts its long-lived `repoSync` workflow, which syncs at once. */
export async function addRepo(client: Client, input: RepoConfigInput, taskQueue: string): Promise<RepoConfig> {
  const config = validate(input);
  try {
    await client.workflow.start('repoSync', {
      workflowId: repoWorkflowId(config.name),
      taskQueue,
      args: [{ config }],
      staticSummary: `repository ${config.name}: ${config.url} (${config.branch}, ${config.path}/)`,
      workflowIdConflictPolicy: 'FAIL',
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) throw new RepoError(`repository "${config.name}" is already registered; \`qubinode repo remove ${config.name}\` first to change it`);
    throw error;
  }
  return config;
}

export async function getRepo(client: Client, name: string): Promise<RepoView> {
  try {
    // A repository whose worker is gone must not hang every catalog read.
    return await client.connection.withDeadline(Date.now() + 5000, () => client.workflow.getHandle(repoWorkflowId(name)).query<RepoView>('catalog'));
  } catch (error) {
    if (error instanceof WorkflowNotFoundError || /not found|workflow execution already completed/i.test((error as Error).message)) {
      throw new RepoError(`no repository "${name}"; list them with \`qubinode repo list\``);
    }
    throw error;
  }
}

/** Names of registered repositories (running repoSync workflows). */
export async function listRepoNames(client: Client): Promise<string[]> {
  const names: string[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowType = 'repoSync' AND ExecutionStatus = 'Running'` })) {
    names.push(execution.workflowId.replace(/^repo\//, ''));
  }
  return names.sort();
}

export async function listRepos(client: Client): Promise<RepoView[]> {
  const registered: { name: string; taskQueue: string }[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowType = 'repoSync' AND ExecutionStatus = 'Running'` })) {
    registered.push({ name: execution.workflowId.replace(/^repo\//, ''), taskQueue: execution.taskQueue });
  }
  // A repository's catalog query waits for a worker of its queue until the query's deadline: one whose queue
  // nobody polls would hold every listing for that long, and then not answer anyway.
  const polled = new Map(await Promise.all([...new Set(registered.map((repo) => repo.taskQueue))].map(async (queue) => [queue, await hasWorkflowPollers(client, queue)] as const)));
  const views = await Promise.all(registered.filter((repo) => polled.get(repo.taskQueue)).map((repo) => getRepo(client, repo.name).catch(() => undefined)));
  return views.filter((view): view is RepoView => view !== undefined).sort((a, b) => a.config.name.localeCompare(b.config.name));
}

/** Whether a worker polls `queue` for workflow tasks (Temporal remembers pollers for a few minutes); true when it cannot tell. */
async function hasWorkflowPollers(client: Client, queue: string): Promise<boolean> {
  try {
    const answer = await client.workflowService.describeTaskQueue({ namespace: client.options.namespace, taskQueue: { name: queue }, taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW });
    return (answer.pollers ?? []).length > 0;
  } catch {
    return true;
  }
}

/**
 * Every registered repository's view, for a process that reloads them on a timer. A repository that is still
 * registered but does not answer this time (its worker busy with a burst of pushes, its run continuing as new,
 * visibility a moment behind) keeps the view it had in `previous`: a busy moment never unregisters it.
 * Only a repository Temporal says is gone (removed, never registered) leaves the list.
 */
export async function listReposKeeping(client: Client, previous: ReadonlyMap<string, RepoView>): Promise<RepoView[]> {
  const names = [...new Set([...(await listRepoNames(client)), ...previous.keys()])].sort();
  const views = await Promise.all(
    names.map(async (name) => {
      try {
        const view = await getRepo(client, name);
        return view.removed ? undefined : view;
      } catch (error) {
        return error instanceof RepoError ? undefined : previous.get(name);
      }
    }),
  );
  return views.filter((view): view is RepoView => view !== undefined);
}

/** Asks for a sync; a delivery id already seen by the repository is answered as a duplicate and not processed. */
export async function requestSync(client: Client, name: string, args: SyncRequestArgs): Promise<SyncRequestReply> {
  try {
    return await client.workflow.getHandle(repoWorkflowId(name)).executeUpdate<SyncRequestReply, [SyncRequestArgs]>('requestSync', { args: [args] });
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new RepoError(`no repository "${name}"`);
    throw error;
  }
}

/** Temporal did not take a sync request within the caller's deadline (down, overloaded or unreachable). */
export class RepoSyncUnavailableError extends Error {
  override readonly name = 'RepoSyncUnavailableError';
}

/**
 * Asks for a sync with one signal, bounded by `timeoutMs`: the cheapest write Temporal offers, and
 * requests arriving during a sync coalesce into one more sync of the newest commit. The workflow
 * still drops a delivery id it has already seen, but answers nobody: duplicates are the caller's to report.
 */
export async function signalSync(client: Client, name: string, args: SyncRequestArgs, timeoutMs: number): Promise<void> {
  try {
    await client.connection.withDeadline(Date.now() + timeoutMs, () => client.workflow.getHandle(repoWorkflowId(name)).signal<[SyncRequestArgs]>('syncRequested', args));
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new RepoError(`no repository "${name}"`);
    throw new RepoSyncUnavailableError(`repository ${name}: the sync request was not taken within ${timeoutMs} ms: ${(error as Error).message}`, { cause: error });
  }
}

/** Requests a sync and waits for its result (the sync after this request, not an earlier one). */
export async function syncAndWait(client: Client, name: string, timeoutMs = 120_000): Promise<SyncRecord> {
  const before = await getRepo(client, name);
  const previousAt = before.lastSync?.at ?? '';
  await requestSync(client, name, { reason: 'cli' });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = await getRepo(client, name);
    if (!view.pending && !view.syncing && view.lastSync && view.lastSync.at > previousAt) return view.lastSync;
    if (Date.now() > deadline) throw new RepoError(`repository ${name}: no sync result within ${timeoutMs / 1000}s (is a worker running?)`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export async function removeRepo(client: Client, name: string): Promise<void> {
  await getRepo(client, name);
  const handle = client.workflow.getHandle(repoWorkflowId(name));
  await handle.signal('remove');
  await handle.result();
}
