import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import { getRunStatus } from '../../client/runs';
import type { DagRunStatus, TaskStatus } from '../../workflows/run-status';

/** Polls until `check` holds; fails with `what` after `withinMs`. */
export async function until(check: () => boolean | Promise<boolean>, withinMs: number, what: string): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${withinMs}ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until a run's task reaches `state` (the run's status query answers as soon as the workflow started). */
export async function untilTaskState(client: Client, runId: string, taskId: string, state: string, withinMs = 20_000): Promise<DagRunStatus> {
  let last: DagRunStatus | undefined;
  await until(
    async () => {
      last = await getRunStatus(client, runId).catch(() => undefined);
      return last?.tasks.find((task) => task.id === taskId)?.state === state;
    },
    withinMs,
    `${runId} task ${taskId} to be ${state}`,
  );
  return last as DagRunStatus;
}

export function taskOf(status: DagRunStatus, id: string): TaskStatus {
  const found = status.tasks.find((candidate) => candidate.id === id);
  assert.ok(found, `no task ${id} in the run status`);
  return found;
}
