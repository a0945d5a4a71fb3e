/**
 * Every workflow id and schedule id the engine makes, defined once. Plain functions (no workflow APIs,
 * no Node built-ins): workflow code, clients and the schedule reconciler build the same strings.
 *
 * The strings are load-bearing: running workflows signal each other by them, recorded histories
 * hold them, and a client finds a run, a rollout or an analysis by rebuilding them. Change none.
 * Parts go in verbatim (nothing is escaped): each part is checked where it enters the engine
 * (DagId and TaskId in the schema, the repository name in RepoConfig, a given run key by the API).
 */

const RUN_PREFIX = 'dag/';
const ROLLOUT_PREFIX = 'rollout/';
const AUDIT_PREFIX = 'audit/';

/** `.<item index>` for one item of a forEach task, nothing otherwise. */
function itemPart(itemIndex: number | undefined): string {
  return itemIndex === undefined ? '' : `.${itemIndex}`;
}

/** `dag/<catalog id>/<run key>`: one run of a DAG (catalog id `<repo>/<dag id>`). */
export function runWorkflowId(catalogId: string, runKey: string): string {
  return `${RUN_PREFIX}${catalogId}/${runKey}`;
}

/** A run id as people type it: `dag/examples/hello/KEY` or `examples/hello/KEY`. */
export function normaliseRunId(ref: string): string {
  return ref.startsWith(RUN_PREFIX) ? ref : `${RUN_PREFIX}${ref}`;
}

/** `<run key>[.<item>]`: the run key a task (or one item of it) passes down to what it starts. */
export function itemRunKey(runKey: string, itemIndex?: number): string {
  return `${runKey}${itemPart(itemIndex)}`;
}

/** `<run key>.<task id>[.<item>]`: the run key of what a task starts (a sub-DAG run, a rollout, an action workflow). */
export function taskRunKey(runKey: string, taskId: string, itemIndex?: number): string {
  return `${runKey}.${taskId}${itemPart(itemIndex)}`;
}

/** `dag/<catalog id>/<run key>.<task id>[.<item>]`: the run of a sub-DAG called by a task. */
export function subDagWorkflowId(catalogId: string, parentRunKey: string, taskId: string, itemIndex?: number): string {
  return runWorkflowId(catalogId, taskRunKey(parentRunKey, taskId, itemIndex));
}

/** `<parent run key>.<task id>.<target>`: the run key of a rollout's step run on one target. */
export function rolloutTargetRunKey(parentRunKey: string, taskId: string, target: string): string {
  return `${parentRunKey}.${taskId}.${target}`;
}

/** `rollout/<catalog id>/<run key>.<task id>[.<item>]`: the rollout child workflow of a rollout task. */
export function rolloutWorkflowId(catalogId: string, runKey: string, taskId: string, itemIndex?: number): string {
  return `${ROLLOUT_PREFIX}${catalogId}/${taskRunKey(runKey, taskId, itemIndex)}`;
}

/** The rollout id whose part after `rollout/` is given (an API path). */
export function rolloutIdFromPath(rest: string): string {
  return `${ROLLOUT_PREFIX}${rest}`;
}

/** Whether an id names a rollout rather than a run. */
export function isRolloutId(ref: string): boolean {
  return ref.startsWith(ROLLOUT_PREFIX);
}

/** `action/<catalog id>/<run key>.<task id>[.<item>]`: one task's action workflow, unique per run, task and item. */
export function actionWorkflowId(catalogId: string, runKey: string, taskId: string, itemIndex?: number): string {
  return `action/${catalogId}/${taskRunKey(runKey, taskId, itemIndex)}`;
}

/** `ai/<run id>/<task id>[.<item index>]`: the AI analysis of one failed task. */
export function analysisWorkflowId(runId: string, taskId: string, item?: number): string {
  return `ai/${runId}/${taskId}${itemPart(item)}`;
}

/** `rollback/<run id>`: the one rollback of a run. */
export function rollbackWorkflowId(runId: string): string {
  return `rollback/${runId}`;
}

/** `repo/<name>`: the long-lived workflow of a registered repository. */
export function repoWorkflowId(name: string): string {
  return `repo/${name}`;
}

/** `repo/<name>/poll`: the schedule that syncs a repository on an interval; also the id of each poll workflow it starts. */
export function pollScheduleId(repo: string): string {
  return `repo/${repo}/poll`;
}

/** `dag/<repo>/`: what every schedule id of a repository's DAGs starts with. */
export function dagSchedulePrefix(repo: string): string {
  return `${RUN_PREFIX}${repo}/`;
}

/** `dag/<catalog id>/schedule-<n>`: the Temporal Schedule of a DAG's n-th on.schedule trigger. */
export function dagScheduleId(catalogId: string, index: number): string {
  return `${RUN_PREFIX}${catalogId}/schedule-${index}`;
}

/** `sched-<n>`: the run key a schedule gives every run; the schedule appends the firing time to the workflow id. */
export function scheduledRunKey(index: number): string {
  return `sched-${index}`;
}

/** `push-<first 12 hex of the commit>`: the run key of a run a push started (one per DAG and commit). */
export function pushRunKey(commit: string): string {
  return `push-${commit.slice(0, 12)}`;
}

/** `hook-<delivery id>`: the run key of a run a trigger webhook started (one per delivery). */
export function hookRunKey(delivery: string): string {
  return `hook-${delivery}`;
}

/** `host-lock/<control queue>/<host>`: the lock that gives one host to one job at a time. */
export function hostLockWorkflowId(controlQueue: string, host: string): string {
  return `host-lock/${controlQueue}/${host}`;
}

/** `logs/<queue>/<run id>/<nonce>`: one short workflow per log read; the nonce keeps concurrent reads apart. */
export function taskLogReadId(queue: string, runId: string, nonce: string): string {
  return `logs/${queue}/${runId}/${nonce}`;
}

/** `audit/2026-11-26T13`: the hour shard holding audit entries recorded at `at` (UTC). */
export function auditShardId(at: Date): string {
  return `${AUDIT_PREFIX}${at.toISOString().slice(0, 13)}`;
}

/** The start of a shard's hour, or undefined when the id is not a shard id. */
export function auditShardStart(workflowId: string): Date | undefined {
  const match = /^audit\/(\d{4}-\d{2}-\d{2}T\d{2})$/.exec(workflowId);
  if (!match) return undefined;
  const start = new Date(`${match[1]}:00:00.000Z`);
  return Number.isNaN(start.getTime()) ? undefined : start;
}

/** The known hosts: one workflow per namespace. */
export const HOST_REGISTRY_WORKFLOW_ID = 'hosts/registry';

/** The repository policies' default workflow (config.policy.workflowId may name another). */
export const POLICY_WORKFLOW_ID = 'policy/repos';
