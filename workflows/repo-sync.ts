import * as wf from '@temporalio/workflow';
import type { createGitSyncActivities } from '../activities/platform/git-sync';
import type { createRepoTriggerActivities } from '../activities/platform/repo-triggers';
import type { AiActivities } from '../ai/activity-types';
import { isCommitSha } from '../dag-repos/schema/git-refs';
import { credentialEnvOf, type RepoConfig } from '../dag-repos/schema/repo-config';
import type { ActiveCommit, RepoView, SyncOutcome, SyncRecord } from '../dag-repos/schema/sync-types';
import { repoWorkflowId } from './workflow-ids';
import { nonRetryableOf } from '../dag-repos/actions/failure-types';

type GitActivities = ReturnType<typeof createGitSyncActivities>;
type TriggerActivities = ReturnType<typeof createRepoTriggerActivities>;

export interface SyncRequestArgs {
  reason: string;
  /** Forge delivery id: a delivery already seen is not processed twice. */
  deliveryId?: string;
  /** The commit a forge push says the branch is at now: a push of the live commit needs no sync. */
  commit?: string;
}

export interface SyncRequestReply {
  accepted: boolean;
  duplicate: boolean;
}

export interface RepoSyncInput {
  config: RepoConfig;
  /** Carried across continue-as-new. */
  carried?: { active?: ActiveCommit; lastSync?: SyncRecord; seenDeliveries: string[]; pending: boolean };
}

export const repoViewQuery = wf.defineQuery<RepoView>('catalog');
export const requestSyncUpdate = wf.defineUpdate<SyncRequestReply, [SyncRequestArgs]>('requestSync');
export const requestSyncSignal = wf.defineSignal<[SyncRequestArgs]>('syncRequested');
export const configureUpdate = wf.defineUpdate<RepoConfig, [RepoConfig]>('configure');
export const removeSignal = wf.defineSignal('remove');

const SEEN_DELIVERIES_KEPT = 500;
const SYNCS_PER_HISTORY = 25;
/** Commits named by pushes and not yet synced that one run keeps; past it a push asks for a plain sync. */
const PUSHED_COMMITS_KEPT = 50;
/** Pushes that name a commit already live or already tried ask for no sync (runs started before it synced for every push). */
const SKIP_SYNCED_PUSHES = 'skip-synced-pushes';

const git = wf.proxyActivities<GitActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { maximumAttempts: 3, initialInterval: '2s', nonRetryableErrorTypes: nonRetryableOf(['SecretNotFound']) },
});
const triggers = wf.proxyActivities<TriggerActivities>({ startToCloseTimeout: '2 minutes', retry: { maximumAttempts: 3 } });
const knowledge = wf.proxyActivities<Pick<AiActivities, 'ai.refreshIndex'>>({ startToCloseTimeout: '5 minutes', retry: { maximumAttempts: 2 } });

/**
 * One long-lived workflow per registered repository (id `repo/<name>`): the source of truth of its
 * active commit and compiled DAGs. Sync requests coalesce: however many arrive during a sync, one more
 * sync follows, and it reads the newest commit. Continues as new to keep its history short.
 */
export async function repoSync(input: RepoSyncInput): Promise<RepoView> {
  let config = input.config;
  let active = input.carried?.active;
  let lastSync = input.carried?.lastSync;
  const seen = [...(input.carried?.seenDeliveries ?? [])];
  // Every run starts with a sync: a request that raced the previous run's continue-as-new is never lost
  // (an unchanged commit costs one fetch).
  let pending = true;
  let syncing = false;
  let removed = false;
  // Commits forge pushes named since the last sync began: a burst of pushes of one commit costs one sync.
  const pushed: string[] = [];
  const synced = (commit: string): boolean => commit === active?.commit || commit === lastSync?.commit;
  const due = (): boolean => pending || pushed.some((commit) => !synced(commit));

  const view = (): RepoView => ({ config, ...(active ? { active } : {}), ...(lastSync ? { lastSync } : {}), syncing, pending: due(), removed });
  const request = (args: SyncRequestArgs): SyncRequestReply => {
    if (args.deliveryId) {
      if (seen.includes(args.deliveryId)) return { accepted: false, duplicate: true };
      seen.push(args.deliveryId);
      if (seen.length > SEEN_DELIVERIES_KEPT) seen.splice(0, seen.length - SEEN_DELIVERIES_KEPT);
    }
    // Anything but a full commit id (a signal from another client, say) asks for a plain sync and is not kept.
    if (isCommitSha(args.commit) && wf.patched(SKIP_SYNCED_PUSHES)) {
      if (!pushed.includes(args.commit)) {
        if (pushed.length < PUSHED_COMMITS_KEPT) pushed.push(args.commit);
        else pending = true;
      }
    } else pending = true;
    return { accepted: true, duplicate: false };
  };

  wf.setHandler(repoViewQuery, view);
  wf.setHandler(requestSyncUpdate, request, {
    validator: (_args: SyncRequestArgs) => {
      if (removed) throw new Error(`repository ${config.name} was removed`);
    },
  });
  wf.setHandler(requestSyncSignal, (args) => void request(args));
  wf.setHandler(configureUpdate, (next) => {
    const changedSource = next.url !== config.url || next.branch !== config.branch || next.path !== config.path;
    config = next;
    if (changedSource) pending = true;
    return config;
  }, { validator: (next) => { if (next.name !== config.name) throw new Error('a repository cannot be renamed; remove it and add it again'); } });
  wf.setHandler(removeSignal, () => {
    removed = true;
  });

  if (input.carried === undefined) await triggers.reconcilePollSchedule({ config });
  let syncs = 0;
  for (;;) {
    await wf.condition(() => due() || removed);
    if (removed) break;
    pending = false;
    pushed.length = 0;
    syncing = true;
    const requestedAt = new Date().toISOString();
    let outcome: SyncOutcome;
    try {
      outcome = await git.syncRepository({ config, ...(active ? { activeCommit: active.commit } : {}) });
    } catch (error) {
      lastSync = { state: 'rejected', commit: '', at: requestedAt, message: `sync failed: ${wf.rootCause(error) ?? (error as Error).message}`, reason: 'error', errors: [], findings: [] };
      syncing = false;
      continue;
    }
    lastSync = { state: outcome.state, commit: outcome.commit, at: new Date().toISOString(), message: outcome.message, reason: 'sync', errors: outcome.errors, findings: outcome.findings };
    if (outcome.state === 'accepted') {
      active = { commit: outcome.commit, syncedAt: lastSync.at, dags: outcome.dags };
      // Only DAGs with triggers travel to these activities: history stays small for repositories of many DAGs.
      const scheduled = outcome.dags.filter((dag) => dag.triggers?.schedule?.length);
      const pushed = outcome.dags.filter((dag) => dag.triggers?.push);
      await triggers.reconcileSchedules({ repo: config.name, dags: scheduled });
      if (pushed.length) await triggers.startPushRuns({ repo: config.name, branch: config.branch, commit: outcome.commit, dags: pushed, changedPaths: outcome.changedPaths });
      if (wf.patched('ai-reindex-after-sync')) {
        // The failure analyser cites the live commit's DAGs and playbooks; only changed files are re-chunked.
        await knowledge['ai.refreshIndex']({ repo: config.name, url: config.url, commit: outcome.commit, credentialEnv: credentialEnvOf(config) }).catch(() => undefined);
      }
    }
    if (outcome.state !== 'unchanged' && outcome.commit) {
      // The forge's commit status is a courtesy: its failure must not hold the catalog back.
      await triggers.reportCommitStatus({ config, commit: outcome.commit, ok: outcome.state === 'accepted', description: outcome.message }).catch(() => undefined);
    }
    syncing = false;
    syncs += 1;
    if (syncs >= SYNCS_PER_HISTORY || wf.workflowInfo().continueAsNewSuggested) {
      await wf.condition(wf.allHandlersFinished);
      await wf.continueAsNew<typeof repoSync>({ config, carried: { ...(active ? { active } : {}), ...(lastSync ? { lastSync } : {}), seenDeliveries: seen, pending: due() } });
    }
  }
  await triggers.reconcileSchedules({ repo: config.name, dags: [] });
  await triggers.reconcilePollSchedule({ config, removed: true });
  await wf.condition(wf.allHandlersFinished);
  return view();
}

/** Started by a repository's poll schedule: asks its repoSync workflow for a sync. */
export async function repoPoll(repo: string): Promise<void> {
  await wf.getExternalWorkflowHandle(repoWorkflowId(repo)).signal(requestSyncSignal, { reason: 'poll' });
}
