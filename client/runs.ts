import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import { maskSecretParams } from '../dag-repos/schema/params';
import type { DagRunInput } from '../workflows/dag-run';
import type { DagRunStatus, RunState, TaskStatus } from '../workflows/run-status';
import { COMMIT_KEY, DAG_KEY, REPO_KEY, runSearchAttributes, STARTED_BY_KEY, STATUS_KEY } from '../workflows/search-attributes';
import { isPlainName } from '../workflows/audit-entry';
import { newRunKey, normaliseRunId, runWorkflowId } from './run-ids';
import { attachAnalyses } from './analysis';
import { literalRunsOn, refuseUnknownHosts } from './hosts';
import { announcedLabels, refuseUnapprovedVersion } from './repo-policy';
import { POLICY_WORKFLOW_ID } from '../workflows/workflow-ids';

export class RunNotFoundError extends Error {
  override readonly name = 'RunNotFoundError';
}

export class RunAlreadyExistsError extends Error {
  override readonly name = 'RunAlreadyExistsError';
}

/** A run request or run filter naming a person in a form that could not be shown or searched safely. */
export class BadRunRequestError extends Error {
  override readonly name = 'BadRunRequestError';
}

function checkedPerson(field: string, value: string | undefined): string | undefined {
  if (value !== undefined && !isPlainName(value)) throw new BadRunRequestError(`${field} must be a plain one-line name of at most 200 characters`);
  return value;
}

export interface StartRunRequest {
  dag: CompiledDag;
  /** Resolved params (see resolveParams). */
  params: Record<string, unknown>;
  taskQueue: string;
  runKey?: string;
  /** Who starts it: the authenticated caller (API), the OS user (local CLI), or a trigger such as `webhook:<repo>`. */
  startedBy?: string;
  /** Workflow id of the repository policy store (config.policy.workflowId); default `policy/repos`. */
  policyWorkflowId?: string;
}

export interface StartedRun {
  runId: string;
  runKey: string;
  temporalRunId: string;
}

function staticDetails(dag: CompiledDag, params: Record<string, unknown>): string {
  const rows = Object.entries(maskSecretParams(dag.params, params)).map(([name, value]) => `| ${name} | \`${JSON.stringify(value)}\` |`);
  return [
    dag.description || dag.catalogId,
    '',
    `Repository **${dag.origin.repo}**, file \`${dag.origin.path}\`, commit \`${dag.origin.commit}\``,
    ...(rows.length ? ['', '| param | value |', '|---|---|', ...rows] : []),
  ].join('\n');
}

/** Workflow options of a DAG run (also the action of a schedule): pinned plan, search attributes, summary and details. */
export function runStartOptions(request: StartRunRequest & { runKey: string }) {
  checkedPerson('startedBy', request.startedBy);
  const input: DagRunInput = { dag: request.dag, params: request.params, runKey: request.runKey, taskQueue: request.taskQueue };
  return {
    workflowId: runWorkflowId(request.dag.catalogId, request.runKey),
    taskQueue: request.taskQueue,
    args: [input] as [DagRunInput],
    staticSummary: `${request.dag.catalogId} @ ${request.dag.origin.commit.slice(0, 12)}`,
    staticDetails: staticDetails(request.dag, request.params),
    memo: { dag: request.dag.catalogId, description: request.dag.description, params: maskSecretParams(request.dag.params, request.params), ...(request.startedBy ? { startedBy: request.startedBy } : {}) },
    typedSearchAttributes: runSearchAttributes(request.dag, request.startedBy),
  };
}

/** Starts one DAG run as a `dagRun` workflow pinned to the compiled DAG and its commit. */
export async function startRun(client: Client, request: StartRunRequest): Promise<StartedRun> {
  const runKey = request.runKey ?? newRunKey();
  const options = runStartOptions({ ...request, runKey });
  // A literal runsOn naming a host no worker ever announced would wait for ever: refused here, by name.
  await refuseUnknownHosts(client, request.dag, request.taskQueue);
  // A new DAG version aimed at a host its repository's policy calls production waits for an approval.
  await refuseUnapprovedVersion({ client, workflowId: request.policyWorkflowId ?? POLICY_WORKFLOW_ID }, request.dag, literalRunsOn(request.dag), announcedLabels(client));
  try {
    // A run key names one run forever: a retry is a new run with a new key.
    const handle = await client.workflow.start('dagRun', { ...options, workflowIdReusePolicy: 'REJECT_DUPLICATE' });
    return { runId: options.workflowId, runKey, temporalRunId: handle.firstExecutionRunId };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) throw new RunAlreadyExistsError(`a run with key "${runKey}" already exists: ${options.workflowId}`);
    throw error;
  }
}

async function describe(client: Client, runId: string): Promise<WorkflowExecutionDescription> {
  try {
    return await client.workflow.getHandle(runId).describe();
  } catch (error) {
    if ((error as { name?: string }).name === 'WorkflowNotFoundError') throw new RunNotFoundError(`no run "${runId}"; list runs with \`qubinode runs\``);
    throw error;
  }
}

const CLOSED_STATES: Record<string, RunState> = { COMPLETED: 'succeeded', FAILED: 'failed', CANCELLED: 'cancelled', TERMINATED: 'cancelled', TIMED_OUT: 'failed' };

function statusFromFailure(error: unknown): DagRunStatus | undefined {
  const cause = error instanceof WorkflowFailedError ? error.cause : undefined;
  const details = cause instanceof ApplicationFailure ? cause.details?.[0] : undefined;
  return details && typeof details === 'object' && 'tasks' in details ? (details as DagRunStatus) : undefined;
}

function statusFromMemo(description: WorkflowExecutionDescription, state: RunState): DagRunStatus {
  const memo = (description.memo ?? {}) as { dag?: string; params?: Record<string, unknown>; status?: { tasks?: TaskStatus[]; reason?: string; endedAt?: string } };
  const tasks = memo.status?.tasks ?? [];
  return {
    runId: description.workflowId,
    runKey: description.workflowId.split('/').at(-1) ?? '',
    dagId: memo.dag ?? '',
    repo: String(description.typedSearchAttributes.get(REPO_KEY) ?? ''),
    commit: String(description.typedSearchAttributes.get(COMMIT_KEY) ?? ''),
    state,
    startedAt: description.startTime.toISOString(),
    ...(description.closeTime ? { endedAt: description.closeTime.toISOString() } : {}),
    params: memo.params ?? {},
    progress: { done: tasks.filter((task) => ['succeeded', 'failed', 'skipped', 'cancelled'].includes(task.state)).length, total: tasks.length },
    tasks,
    ...(description.status.name === 'TERMINATED' ? { reason: 'terminated' } : memo.status?.reason ? { reason: memo.status.reason } : {}),
  };
}

/** Adds live retry information (attempt, last failure) of running activities from Temporal's pending-activity list. */
function withPendingAttempts(status: DagRunStatus, description: WorkflowExecutionDescription): DagRunStatus {
  const pending = description.raw.pendingActivities ?? [];
  if (pending.length === 0) return status;
  const byTask = new Map(pending.map((activity) => [String(activity.activityId ?? '').replace(/\[\d+\]$/, ''), activity]));
  return {
    ...status,
    tasks: status.tasks.map((task) => {
      const activity = byTask.get(task.id);
      if (!activity || task.state !== 'running') return task;
      const lastFailure = activity.lastFailure?.message;
      return { ...task, attempt: Math.max(task.attempt, activity.attempt ?? 1), ...(lastFailure ? { reason: `retrying after: ${lastFailure}` } : {}) };
    }),
  };
}

/** The status of a run, open or closed, with the AI analysis of each failed task (`analysis`, or `analysisPending`). */
export async function getRunStatus(client: Client, ref: string): Promise<DagRunStatus> {
  return attachAnalyses(client, await readRunStatus(client, ref));
}

/** Open runs are asked through the status query; closed ones read their result. */
async function readRunStatus(client: Client, ref: string): Promise<DagRunStatus> {
  const runId = normaliseRunId(ref);
  const description = await describe(client, runId);
  const handle = client.workflow.getHandle(runId);
  if (description.status.name === 'RUNNING') {
    const status = await handle.query<DagRunStatus>('status');
    return withPendingAttempts(status, description);
  }
  const state = CLOSED_STATES[description.status.name] ?? 'failed';
  if (state === 'succeeded') return (await handle.result()) as DagRunStatus;
  if (state === 'failed') {
    try {
      await handle.result();
    } catch (error) {
      const status = statusFromFailure(error);
      if (status) return status;
    }
  }
  return statusFromMemo(description, state);
}

export async function cancelRun(client: Client, ref: string): Promise<string> {
  const runId = normaliseRunId(ref);
  const description = await describe(client, runId);
  if (description.status.name !== 'RUNNING') throw new RunNotFoundError(`run "${runId}" is not running (${description.status.name.toLowerCase()})`);
  await client.workflow.getHandle(runId).cancel();
  return runId;
}

export interface RunSummary {
  runId: string;
  dagId: string;
  state: string;
  commit: string;
  startedAt: string;
  endedAt?: string;
  startedBy?: string;
}

export interface RunFilter {
  dag?: string;
  status?: string;
  /** Only runs started by this person (QubinodeStartedBy). */
  startedBy?: string;
  limit?: number;
}

function visibilityQuery(filter: RunFilter): string {
  const clauses = [`WorkflowType = 'dagRun'`];
  // Temporal's query parser reads backslash escapes as well as doubled quotes: both are escaped, so a
  // value cannot end the string. (The SQLite dev server then never matches a value holding a
  // backslash; that costs a search, never widens one.)
  const quote = (value: string): string => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  if (filter.dag) clauses.push(`QubinodeDag = ${quote(filter.dag)}`);
  if (filter.status) clauses.push(`QubinodeStatus = ${quote(filter.status)}`);
  if (filter.startedBy !== undefined) clauses.push(`QubinodeStartedBy = ${quote(checkedPerson('startedBy', filter.startedBy) as string)}`);
  return clauses.join(' AND ');
}

/** Runs from Temporal visibility, newest first. */
export async function listRuns(client: Client, filter: RunFilter): Promise<RunSummary[]> {
  const runs: RunSummary[] = [];
  // A page no larger than asked for: each listed execution is decoded whether it is used or not.
  for await (const execution of client.workflow.list({ query: visibilityQuery(filter), pageSize: Math.min(Math.max(filter.limit ?? 50, 1), 100) })) {
    const attributes = execution.typedSearchAttributes;
    const startedBy = attributes.get(STARTED_BY_KEY);
    runs.push({
      runId: execution.workflowId,
      dagId: String(attributes.get(DAG_KEY) ?? ''),
      state: String(attributes.get(STATUS_KEY) ?? execution.status.name.toLowerCase()),
      commit: String(attributes.get(COMMIT_KEY) ?? ''),
      startedAt: execution.startTime.toISOString(),
      ...(execution.closeTime ? { endedAt: execution.closeTime.toISOString() } : {}),
      ...(startedBy ? { startedBy: String(startedBy) } : {}),
    });
    if (runs.length >= (filter.limit ?? 50)) break;
  }
  return runs;
}

export type { DagRunStatus, TaskStatus };
