import type { Client, ScheduleOptionsStartWorkflowAction, ScheduleOverlapPolicy, Workflow } from '@temporalio/client';
import type { CompiledDag } from '../../dag-repos/compiler/compiled-dag';
import { forgeApiOf } from '../../dag-repos/schema/forge-api';
import { matchesAny } from '../../dag-repos/schema/globs';
import type { RepoConfig } from '../../dag-repos/schema/repo-config';
import { parseDuration } from '../../dag-repos/schema/duration';
import { resolveParams } from '../../dag-repos/schema/params';
import type { OverlapPolicy } from '../../dag-repos/schema/triggers';
import { postCommitStatus } from './commit-status';

/** A DAG run to start: the pinned plan, resolved params, its queue and its run key. */
export interface TriggeredRunRequest {
  dag: CompiledDag;
  params: Record<string, unknown>;
  taskQueue: string;
  runKey: string;
}

/**
 * How triggers start runs: the client's run starter (its checks, search attributes and summary), handed
 * in by the worker's starter because activities sit below client in the layer rules.
 */
export interface RunStarter {
  start(client: Client, request: TriggeredRunRequest): Promise<{ runId: string }>;
  /** A schedule's action starts the same workflow as `start`. */
  startOptions(request: TriggeredRunRequest): Omit<ScheduleOptionsStartWorkflowAction<Workflow>, 'type' | 'workflowType'>;
  /** True for the error `start` throws when a run with that key exists. */
  isAlreadyStarted(error: unknown): boolean;
}

/** The ids triggers give runs and schedules (workflows/workflow-ids.ts, handed in by the worker). */
export interface TriggerIds {
  pushRunKey(commit: string): string;
  scheduledRunKey(index: number): string;
  dagScheduleId(catalogId: string, index: number): string;
  dagSchedulePrefix(repo: string): string;
  pollScheduleId(repo: string): string;
}

export interface RepoTriggerDeps {
  client: () => Promise<Client>;
  runs: RunStarter;
  ids: TriggerIds;
  /** Queue of dagRun workflows started by triggers. */
  taskQueue: string;
  fetch?: typeof fetch;
}

export interface PushEvent {
  repo: string;
  branch: string;
  commit: string;
  dags: CompiledDag[];
  changedPaths: string[];
}

const OVERLAP: Record<OverlapPolicy, ScheduleOverlapPolicy> = {
  skip: 'SKIP',
  buffer_one: 'BUFFER_ONE',
  buffer_all: 'BUFFER_ALL',
  cancel_other: 'CANCEL_OTHER',
  terminate_other: 'TERMINATE_OTHER',
  allow_all: 'ALLOW_ALL',
};

/** Activities a repository's workflow uses after a sync: push-triggered runs, schedules, commit statuses. */
export function createRepoTriggerActivities(deps: RepoTriggerDeps) {
  const { runs, ids } = deps;
  return {
    /** Starts one run per DAG whose on.push matches; the run key comes from the commit, so a repeated call starts nothing new. */
    async startPushRuns(event: PushEvent): Promise<{ started: string[]; skipped: string[] }> {
      const client = await deps.client();
      const started: string[] = [];
      const skipped: string[] = [];
      for (const dag of event.dags) {
        const push = dag.triggers?.push;
        if (!push) continue;
        const branches = push.branches.length ? push.branches : [event.branch];
        if (!matchesAny(event.branch, branches)) continue;
        if (push.paths.length && !event.changedPaths.some((changed) => matchesAny(changed, push.paths))) continue;
        try {
          const params = resolveParams(dag.params, push.params);
          const run = await runs.start(client, { dag, params, taskQueue: deps.taskQueue, runKey: ids.pushRunKey(event.commit) });
          started.push(run.runId);
        } catch (error) {
          if (runs.isAlreadyStarted(error)) skipped.push(`${dag.catalogId}: already started for this commit`);
          else skipped.push(`${dag.catalogId}: ${(error as Error).message}`);
        }
      }
      return { started, skipped };
    },

    /** Makes the Temporal Schedules of a repository match its DAGs' on.schedule triggers. */
    async reconcileSchedules(input: { repo: string; dags: CompiledDag[] }): Promise<{ created: string[]; updated: string[]; deleted: string[]; errors: string[] }> {
      const client = await deps.client();
      const wanted = new Map<string, { dag: CompiledDag; index: number }>();
      for (const dag of input.dags) dag.triggers?.schedule?.forEach((_, index) => wanted.set(ids.dagScheduleId(dag.catalogId, index), { dag, index }));
      const existing = new Set<string>();
      for await (const schedule of client.schedule.list()) if (schedule.scheduleId.startsWith(ids.dagSchedulePrefix(input.repo))) existing.add(schedule.scheduleId);
      const result = { created: [] as string[], updated: [] as string[], deleted: [] as string[], errors: [] as string[] };
      for (const [scheduleId, { dag, index }] of wanted) {
        const trigger = dag.triggers?.schedule?.[index];
        if (!trigger) continue;
        let params: Record<string, unknown>;
        try {
          params = resolveParams(dag.params, trigger.params);
        } catch (error) {
          result.errors.push(`${scheduleId}: ${(error as Error).message}`);
          continue;
        }
        const start = runs.startOptions({ dag, params, taskQueue: deps.taskQueue, runKey: ids.scheduledRunKey(index) });
        const spec = { cronExpressions: [trigger.cron], timezone: trigger.timezone };
        const action = { type: 'startWorkflow' as const, workflowType: 'dagRun', ...start };
        const policies = { overlap: OVERLAP[trigger.overlap] };
        if (existing.has(scheduleId)) {
          await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, spec, action, policies: { ...previous.policies, ...policies } }));
          result.updated.push(scheduleId);
        } else {
          await client.schedule.create({ scheduleId, spec, action, policies, memo: { repo: input.repo, dag: dag.catalogId } });
          result.created.push(scheduleId);
        }
      }
      for (const scheduleId of existing) {
        if (wanted.has(scheduleId)) continue;
        await client.schedule.getHandle(scheduleId).delete();
        result.deleted.push(scheduleId);
      }
      return result;
    },

    /** Creates, updates or deletes the schedule that syncs a repository on an interval (--poll). */
    async reconcilePollSchedule(input: { config: RepoConfig; removed?: boolean }): Promise<string> {
      const client = await deps.client();
      const scheduleId = ids.pollScheduleId(input.config.name);
      const handle = client.schedule.getHandle(scheduleId);
      const exists = await handle.describe().then(
        () => true,
        () => false,
      );
      if (input.removed || !input.config.poll) {
        if (exists) await handle.delete();
        return exists ? 'deleted' : 'none';
      }
      const spec = { intervals: [{ every: parseDuration(input.config.poll) }] };
      const action = { type: 'startWorkflow' as const, workflowType: 'repoPoll', taskQueue: deps.taskQueue, args: [input.config.name], workflowId: ids.pollScheduleId(input.config.name) };
      if (exists) await handle.update((previous) => ({ ...previous, spec, action }));
      else await client.schedule.create({ scheduleId, spec, action, policies: { overlap: 'SKIP' } });
      return exists ? 'updated' : 'created';
    },

    /**
     * Posts the sync result as a commit status (GitHub, GitHub Enterprise, GitLab, Bitbucket Cloud) when a
     * token is configured. The API is derived from the repository's own host unless an admin set `apiUrl`,
     * and the token is sent to that origin only. Never fails the sync.
     */
    async reportCommitStatus(input: { config: RepoConfig; commit: string; ok: boolean; description: string }): Promise<string> {
      const { config } = input;
      const token = config.tokenEnv ? process.env[config.tokenEnv] : undefined;
      if (!token) return 'skipped: no forge token configured';
      const api = forgeApiOf(config);
      if (!api) return `skipped: no commit-status API for a ${config.forge} repository at this URL (set --api-url)`;
      return postCommitStatus(api, token, input, deps.fetch ?? fetch);
    },
  };
}
