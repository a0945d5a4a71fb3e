import * as wf from '@temporalio/workflow';
import type { CompiledActionCall, CompiledDag, CompiledTask } from '../dag-repos/compiler/compiled-dag';
import { conditionExpression } from '../dag-repos/compiler/expression-checks';
import { evaluateExpression, renderValue } from '../dag-repos/expressions';
import { toTaskError } from './failures';
import type { CompensationRecord, RollbackRecord, RollbackTrigger } from './rollback-status';
import type { TaskStatus } from './run-status';
import { executeAction } from './task-executor';

/** What a saga rollback needs to know about the run it undoes. */
export interface CompensationPlan {
  dag: CompiledDag;
  /** Task states of the run being undone (the live statuses, or a finished run's). */
  tasks: readonly TaskStatus[];
  params: Record<string, unknown>;
  /** Queue for compensations of tasks without runsOn. */
  taskQueue: string;
  /** Workflow that runs the compensations (activity ids and logs go under it). */
  runId: string;
  runKey: string;
  /** Rollout target the compensations belong to, for records and activity ids. */
  target?: string;
  /** The run's step was cut short (timeout, abort), so its task states are unknown: undo every compensable task. */
  statesUnknown?: boolean;
}

const COMPENSATION_RETRY = { maximumAttempts: 3, initialIntervalMs: 1000, backoffCoefficient: 2 };

/**
 * Patch id: a rollback undoes only what the run made. A task (or forEach item) whose outputs say
 * `created: false` found its resource already there, so its compensation is skipped and recorded as such;
 * a forEach task is undone item by item, its succeeded items even when others failed.
 */
export const UNDO_ONLY_CREATED = 'rollback-undoes-only-created';

/** One compensation to run (or to skip, with the reason), for a task or one of its forEach items. */
export interface CompensationStep {
  task: CompiledTask;
  compensate: CompiledActionCall;
  status?: TaskStatus;
  item?: { index: number; value: unknown; runsOn?: string };
  /** Why this step must not run: the task did not create what its compensation would remove. */
  skip?: string;
}

/** Completed tasks with a `compensate:`, latest completion first (ties: later in topological order first). */
export function compensationOrder(plan: Pick<CompensationPlan, 'dag' | 'tasks' | 'statesUnknown'>, perItem = false): { task: CompiledTask; compensate: CompiledActionCall; status?: TaskStatus }[] {
  const index = new Map(plan.dag.tasks.map((task, position) => [task.id, position]));
  const byId = new Map(plan.tasks.map((status) => [status.id, status]));
  const undone = (task: CompiledTask): boolean => {
    if (plan.statesUnknown) return true;
    const status = byId.get(task.id);
    if (status?.state === 'succeeded') return true;
    return perItem && task.forEach !== undefined && (status?.items ?? []).some((item) => item.state === 'succeeded');
  };
  return plan.dag.tasks
    .filter((task) => task.compensate && undone(task))
    .map((task) => ({ task, compensate: task.compensate as CompiledActionCall, ...(byId.get(task.id) ? { status: byId.get(task.id) } : {}) }))
    .sort((a, b) => {
      const ended = (b.status?.endedAt ?? '').localeCompare(a.status?.endedAt ?? '');
      return ended !== 0 ? ended : (index.get(b.task.id) ?? 0) - (index.get(a.task.id) ?? 0);
    });
}

function notCreated(outputs: Record<string, unknown> | undefined): boolean {
  return outputs?.created === false;
}

/** The forEach list as the run saw it: the same expression over the same params and upstream outputs. */
function forEachValues(task: CompiledTask, scope: Record<string, unknown>): unknown[] | undefined {
  try {
    const source = task.forEach;
    const list = typeof source === 'string' ? evaluateExpression(conditionExpression(source).expr, scope) : renderValue(source, scope);
    return Array.isArray(list) ? list : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What a rollback does, in order: one step per undone task, or per succeeded item of a forEach task (last
 * item first), each marked skip when its outputs say it created nothing.
 */
export function compensationSteps(plan: CompensationPlan, scope: Record<string, unknown>): CompensationStep[] {
  const steps: CompensationStep[] = [];
  for (const entry of compensationOrder(plan, true)) {
    const items = entry.status?.items;
    if (plan.statesUnknown || entry.task.forEach === undefined || items === undefined) {
      const skip = notCreated(entry.status?.outputs) ? `${entry.task.id} did not create it (outputs.created is false); left as it was` : undefined;
      steps.push({ ...entry, ...(skip ? { skip } : {}) });
      continue;
    }
    const values = forEachValues(entry.task, scope);
    for (const item of [...items].reverse()) {
      if (item.state !== 'succeeded') continue;
      const skip = notCreated(item.outputs) ? `${entry.task.id}[${item.index}] (${item.label}) did not create it (outputs.created is false); left as it was` : undefined;
      steps.push({ ...entry, item: { index: item.index, value: values?.[item.index], ...(item.runsOn ? { runsOn: item.runsOn } : {}) }, ...(skip ? { skip } : {}) });
    }
  }
  return steps;
}

function scopeOf(plan: CompensationPlan): Record<string, unknown> {
  const tasks: Record<string, unknown> = {};
  for (const status of plan.tasks) {
    tasks[status.id] = { state: status.state, outputs: status.outputs ?? {}, error: status.error ?? null, attempt: status.attempt, items: status.items ?? [] };
  }
  return { params: plan.params, tasks, run: { id: plan.runId, key: plan.runKey, dag: plan.dag.catalogId, repo: plan.dag.origin.repo, commit: plan.dag.origin.commit } };
}

/** Runs the compensations one at a time, in order; a failed one is recorded and the rest still run. */
export async function runCompensations(plan: CompensationPlan, onRecord: (records: CompensationRecord[]) => void = () => undefined): Promise<CompensationRecord[]> {
  const records: CompensationRecord[] = [];
  const scope = scopeOf(plan);
  const steps: CompensationStep[] = wf.patched(UNDO_ONLY_CREATED) ? compensationSteps(plan, scope) : compensationOrder(plan);
  for (const { task, compensate, status, item, skip } of steps) {
    const startedAt = new Date().toISOString();
    const prefix = plan.target ? `${plan.target}:` : '';
    const itemFields = item === undefined ? {} : { itemIndex: item.index };
    const about = { taskId: task.id, action: compensate.action, ...itemFields, ...(plan.target ? { target: plan.target } : {}) };
    const itemScope = item === undefined ? scope : { ...scope, item: item.value, itemIndex: item.index };
    let runsOn = item?.runsOn ?? status?.runsOn ?? plan.taskQueue;
    if (skip !== undefined) {
      records.push({ ...about, state: 'skipped', startedAt, endedAt: startedAt, runsOn, summary: skip });
      onRecord([...records]);
      continue;
    }
    try {
      if (!item?.runsOn && !status?.runsOn && task.runsOn) runsOn = String(renderValue(task.runsOn, itemScope));
      const inputs = renderValue(compensate.with, itemScope) as Record<string, unknown>;
      const call: CompiledTask = { ...compensate, id: `${prefix}${task.id}.compensate`, needs: [], trigger: 'all_success', retry: COMPENSATION_RETRY };
      const result = await executeAction({ task: call, inputs, taskQueue: runsOn, runQueue: plan.taskQueue, runId: plan.runId, runKey: plan.runKey, dag: plan.dag, ...itemFields });
      records.push({ ...about, state: 'succeeded', startedAt, endedAt: new Date().toISOString(), runsOn, summary: result.summary });
    } catch (error) {
      const { type, reportedType, message, retryable } = toTaskError(error);
      records.push({ ...about, state: 'failed', startedAt, endedAt: new Date().toISOString(), runsOn, error: { type, ...(reportedType ? { reportedType } : {}), message, retryable } });
    }
    onRecord([...records]);
  }
  return records;
}

/** True when nothing in the records failed: skipped steps left resources the run did not make, as they should. */
export function allUndone(records: readonly CompensationRecord[]): boolean {
  return records.every((entry) => entry.state !== 'failed');
}

/** A whole rollback of one run, as recorded in its status. */
export async function rollBack(plan: CompensationPlan, how: { mode: 'auto' | 'manual'; trigger: RollbackTrigger; reason: string }, onChange: (record: RollbackRecord) => void): Promise<RollbackRecord> {
  let record: RollbackRecord = { ...how, state: 'running', startedAt: new Date().toISOString(), compensations: [] };
  onChange(record);
  const compensations = await wf.CancellationScope.nonCancellable(() =>
    runCompensations(plan, (records) => {
      record = { ...record, compensations: records };
      onChange(record);
    }),
  );
  record = { ...record, compensations, state: allUndone(compensations) ? 'succeeded' : 'failed', endedAt: new Date().toISOString() };
  onChange(record);
  return record;
}
