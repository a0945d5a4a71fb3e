import { WorkflowExecutionAlreadyStartedError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import type { ApprovalDecision } from '../workflows/approvals';
import type { DagRunInput } from '../workflows/dag-run';
import type { DagRollbackInput } from '../workflows/rollback-run';
import type { AbortRequest, ApprovalRecord, RollbackRecord, RolloutProgress } from '../workflows/rollback-status';
import type { TaskStatus } from '../workflows/run-status';
import { RETRY_OF_KEY } from '../workflows/search-attributes';
import { isRolloutId, newRunKey, normaliseRunId } from './run-ids';
import { rollbackWorkflowId } from '../workflows/workflow-ids';
import { getRunStatus, RunAlreadyExistsError, RunNotFoundError, runStartOptions, type StartedRun } from './runs';

/** Client side of issue 5: approve, abort, retry from failure, manual rollback, rollout progress. */

export class ApprovalRefusedError extends Error {
  override readonly name = 'ApprovalRefusedError';
}

/** The workflow holding a task's approval gate: the run itself, or the rollout child of a rollout task. */
async function gateWorkflow(client: Client, runId: string, taskId: string): Promise<string> {
  const status = await getRunStatus(client, runId);
  const task = status.tasks.find((candidate) => candidate.id === taskId);
  if (!task) throw new ApprovalRefusedError(`run ${runId} has no task "${taskId}"; tasks: ${status.tasks.map((candidate) => candidate.id).join(', ')}`);
  if (task.action === 'rollout' && task.childRunId) return task.childRunId;
  return runId;
}

/**
 * Approves or rejects a waiting approval (through the validated Update); returns the recorded
 * decision. `by` must be the authenticated caller; `onBehalfOf` names the approver an admin acts
 * for (callers check the admin role before passing it).
 */
export async function decideApproval(client: Client, ref: string, decision: ApprovalDecision): Promise<ApprovalRecord> {
  const runId = normaliseRunId(ref);
  const workflowId = await gateWorkflow(client, runId, decision.taskId);
  try {
    return await client.workflow.getHandle(workflowId).executeUpdate<ApprovalRecord, [ApprovalDecision]>('approve', { args: [decision] });
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) throw new ApprovalRefusedError(`${runId} task ${decision.taskId}: ${error.cause?.message ?? error.message}`);
    if ((error as { name?: string }).name === 'WorkflowNotFoundError') throw new RunNotFoundError(`run "${runId}" is not running`);
    throw error;
  }
}

/** Asks a run (or a rollout) to stop and roll back what it changed; `by` is the authenticated caller. */
export async function abortRun(client: Client, ref: string, request: AbortRequest): Promise<string> {
  const runId = isRolloutId(ref) ? ref : normaliseRunId(ref);
  const description = await client.workflow.getHandle(runId).describe().catch(() => undefined);
  if (description?.status.name !== 'RUNNING') throw new RunNotFoundError(`run "${runId}" is not running`);
  await client.workflow.getHandle(runId).signal('abort', request);
  return runId;
}

/** The input a run was started with, read from the first event of its history. */
export async function runInput(client: Client, runId: string): Promise<DagRunInput> {
  let history;
  try {
    history = await client.workflow.getHandle(runId).fetchHistory();
  } catch (error) {
    if ((error as { name?: string }).name === 'WorkflowNotFoundError') throw new RunNotFoundError(`no run "${runId}"`);
    throw error;
  }
  const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new RunNotFoundError(`run "${runId}" has no recorded input`);
  return defaultPayloadConverter.fromPayload<DagRunInput>(payload);
}

function descendants(dag: CompiledDag, roots: Iterable<string>): Set<string> {
  const found = new Set(roots);
  for (const task of dag.tasks) if (task.needs.some((need) => found.has(need))) found.add(task.id);
  return found;
}

/**
 * What a retry reuses: every task that succeeded in the old run, except the restart point (`from`,
 * or every task that did not succeed) and everything downstream of it. Tasks are in topological
 * order, so one pass finds the descendants.
 */
export function reusableTasks(dag: CompiledDag, tasks: readonly TaskStatus[], from?: string): Record<string, TaskStatus> {
  const byId = new Map(tasks.map((task) => [task.id, task]));
  if (from !== undefined && !dag.tasks.some((task) => task.id === from)) throw new RunNotFoundError(`the DAG has no task "${from}"; tasks: ${dag.tasks.map((task) => task.id).join(', ')}`);
  const restart = from !== undefined ? [from] : dag.tasks.filter((task) => byId.get(task.id)?.state !== 'succeeded').map((task) => task.id);
  const rerun = descendants(dag, restart);
  return Object.fromEntries(dag.tasks.filter((task) => !rerun.has(task.id) && byId.get(task.id)?.state === 'succeeded').map((task) => [task.id, byId.get(task.id) as TaskStatus]));
}

/** `qubinode retry`: a new run of the same pinned plan and params, reusing the outputs of upstream successes. */
export async function retryRun(client: Client, ref: string, options: { from?: string; runKey?: string; startedBy?: string } = {}): Promise<StartedRun & { reused: string[] }> {
  const oldRunId = normaliseRunId(ref);
  const input = await runInput(client, oldRunId);
  const status = await getRunStatus(client, oldRunId);
  if (status.state === 'running') throw new RunAlreadyExistsError(`run ${oldRunId} is still running; cancel or abort it first`);
  const reuse = reusableTasks(input.dag, status.tasks, options.from);
  const runKey = options.runKey ?? newRunKey();
  const base = runStartOptions({ dag: input.dag, params: input.params, taskQueue: input.taskQueue, runKey, ...(options.startedBy ? { startedBy: options.startedBy } : {}) });
  try {
    const handle = await client.workflow.start('dagRun', {
      ...base,
      args: [{ ...input, runKey, reuse, retryOf: oldRunId }],
      memo: { ...base.memo, retryOf: oldRunId },
      typedSearchAttributes: [...base.typedSearchAttributes, { key: RETRY_OF_KEY, value: oldRunId }],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
    });
    return { runId: base.workflowId, runKey, temporalRunId: handle.firstExecutionRunId, reused: Object.keys(reuse) };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) throw new RunAlreadyExistsError(`a run with key "${runKey}" already exists: ${base.workflowId}`);
    throw error;
  }
}

/** `qubinode rollback`: runs the compensations of a finished run's completed tasks and waits for the result. */
export async function rollbackRun(client: Client, ref: string, who: { by: string; onBehalfOf?: string }): Promise<RollbackRecord> {
  const runId = normaliseRunId(ref);
  const input = await runInput(client, runId);
  const status = await getRunStatus(client, runId);
  if (status.state === 'running') throw new RunAlreadyExistsError(`run ${runId} is still running; abort it (qubinode abort) to stop and roll back`);
  const args: DagRollbackInput = { runId, runKey: input.runKey, dag: input.dag, params: input.params, tasks: status.tasks, taskQueue: input.taskQueue, by: who.by, ...(who.onBehalfOf && who.onBehalfOf !== who.by ? { onBehalfOf: who.onBehalfOf } : {}) };
  try {
    return await client.workflow.execute('dagRollback', { workflowId: rollbackWorkflowId(runId), taskQueue: input.taskQueue, args: [args], workflowIdReusePolicy: 'REJECT_DUPLICATE', staticSummary: `rollback of ${runId}` });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) throw new RunAlreadyExistsError(`run ${runId} was already rolled back (workflow ${rollbackWorkflowId(runId)})`);
    throw error;
  }
}

/** Progress of the rollout started by a run's rollout task (live by query, or its result once done). */
export async function rolloutProgress(client: Client, rolloutId: string): Promise<RolloutProgress> {
  const handle = client.workflow.getHandle(rolloutId);
  const description = await handle.describe();
  if (description.status.name === 'RUNNING') return handle.query<RolloutProgress>('rollout');
  return (await handle.result()) as RolloutProgress;
}
