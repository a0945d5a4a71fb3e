import * as wf from '@temporalio/workflow';
import type { CompiledActionCall, CompiledDag, CompiledTask } from '../dag-repos/compiler/compiled-dag';
import { renderValue } from '../dag-repos/expressions';
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

/** Completed tasks with a `compensate:`, latest completion first (ties: later in topological order first). */
export function compensationOrder(plan: Pick<CompensationPlan, 'dag' | 'tasks' | 'statesUnknown'>): { task: CompiledTask; compensate: CompiledActionCall; status?: TaskStatus }[] {
  const index = new Map(plan.dag.tasks.map((task, position) => [task.id, position]));
  const byId = new Map(plan.tasks.map((status) => [status.id, status]));
  const done = plan.dag.tasks.filter((task) => task.compensate && (plan.statesUnknown || byId.get(task.id)?.state === 'succeeded'));
  return done
    .map((task) => ({ task, compensate: task.compensate as CompiledActionCall, ...(byId.get(task.id) ? { status: byId.get(task.id) } : {}) }))
    .sort((a, b) => {
      const ended = (b.status?.endedAt ?? '').localeCompare(a.status?.endedAt ?? '');
      return ended !== 0 ? ended : (index.get(b.task.id) ?? 0) - (index.get(a.task.id) ?? 0);
    });
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
  for (const { task, compensate, status } of compensationOrder(plan)) {
    const startedAt = new Date().toISOString();
    const prefix = plan.target ? `${plan.target}:` : '';
    let runsOn = status?.runsOn ?? plan.taskQueue;
    try {
      if (!status?.runsOn && task.runsOn) runsOn = String(renderValue(task.runsOn, scope));
      const inputs = renderValue(compensate.with, scope) as Record<string, unknown>;
      const call: CompiledTask = { ...compensate, id: `${prefix}${task.id}.compensate`, needs: [], trigger: 'all_success', retry: COMPENSATION_RETRY };
      const result = await executeAction({ task: call, inputs, taskQueue: runsOn, runQueue: plan.taskQueue, runId: plan.runId, runKey: plan.runKey, dag: plan.dag });
      records.push({ taskId: task.id, action: compensate.action, ...(plan.target ? { target: plan.target } : {}), state: 'succeeded', startedAt, endedAt: new Date().toISOString(), runsOn, summary: result.summary });
    } catch (error) {
      const { type, message, retryable } = toTaskError(error);
      records.push({ taskId: task.id, action: compensate.action, ...(plan.target ? { target: plan.target } : {}), state: 'failed', startedAt, endedAt: new Date().toISOString(), runsOn, error: { type, message, retryable } });
    }
    onRecord([...records]);
  }
  return records;
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
  record = { ...record, compensations, state: compensations.every((entry) => entry.state === 'succeeded') ? 'succeeded' : 'failed', endedAt: new Date().toISOString() };
  onChange(record);
  return record;
}
