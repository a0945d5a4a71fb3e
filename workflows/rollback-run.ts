import * as wf from '@temporalio/workflow';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import { actorText } from './approvals';
import { rollBack } from './compensation';
import type { RollbackRecord } from './rollback-status';
import type { TaskStatus } from './run-status';

export interface DagRollbackInput {
  /** The run being undone: its pinned plan, params and final task states. */
  runId: string;
  runKey: string;
  dag: CompiledDag;
  params: Record<string, unknown>;
  tasks: TaskStatus[];
  taskQueue: string;
  /** Who asked (the authenticated caller), and the person they acted for if an admin acted for someone. */
  by: string;
  onBehalfOf?: string;
}

export const rollbackQuery = wf.defineQuery<RollbackRecord | undefined>('rollback');

/** `qubinode rollback RUN`: the compensations of a finished run's completed tasks, in reverse completion order. */
export async function dagRollback(input: DagRollbackInput): Promise<RollbackRecord> {
  let current: RollbackRecord | undefined;
  wf.setHandler(rollbackQuery, () => current);
  const record = await rollBack(
    { dag: input.dag, tasks: input.tasks, params: input.params, taskQueue: input.taskQueue, runId: input.runId, runKey: input.runKey },
    { mode: 'manual', trigger: 'manual', reason: `requested by ${actorText(input)}` },
    (next) => {
      current = next;
    },
  );
  wf.upsertMemo({ rollback: record });
  return record;
}
