import type { Client } from '@temporalio/client';
import { FailureAnalysis } from '../dag-repos/actions/failure-analysis';
import { analysisWorkflowId } from '../workflows/workflow-ids';
import type { DagRunStatus, ItemStatus, TaskStatus } from '../workflows/run-status';

type Lookup = { analysis: FailureAnalysis; pending?: true } | { pending: true } | undefined;

/**
 * The rules' answer of a running analysis (its `analysis` query), while the model still works. Analyses
 * started before rules-first have no such query: they are only pending.
 */
async function runningAnalysis(handle: ReturnType<Client['workflow']['getHandle']>): Promise<FailureAnalysis | undefined> {
  try {
    const answer = await handle.query<unknown>('analysis');
    const parsed = FailureAnalysis.safeParse(answer);
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The analysis workflow's result when it has completed, `pending` (with the rules' answer when there is one) while it runs, undefined when there is none. */
async function lookup(client: Client, workflowId: string): Promise<Lookup> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    const description = await handle.describe();
    if (description.status.name === 'RUNNING') {
      const analysis = await runningAnalysis(handle);
      return analysis ? { analysis, pending: true } : { pending: true };
    }
    if (description.status.name !== 'COMPLETED') return undefined;
    return { analysis: (await handle.result()) as FailureAnalysis };
  } catch {
    // No analysis (started before the feature, or never started): the status is complete without it.
    return undefined;
  }
}

function apply<T extends TaskStatus | ItemStatus>(target: T, found: Lookup): T {
  if (!found) return target;
  return { ...target, ...('analysis' in found ? { analysis: found.analysis } : {}), ...(found.pending ? { analysisPending: true } : {}) };
}

/** Adds `analysis` (or `analysisPending`) to each failed task and failed forEach item of a run status. */
export async function attachAnalyses(client: Client, status: DagRunStatus): Promise<DagRunStatus> {
  const failed = status.tasks.filter((task) => task.state === 'failed');
  if (failed.length === 0) return status;
  const tasks = await Promise.all(
    status.tasks.map(async (task) => {
      if (task.state !== 'failed') return task;
      const failedItems = (task.items ?? []).filter((item) => item.state === 'failed');
      if (failedItems.length === 0) return apply(task, await lookup(client, analysisWorkflowId(status.runId, task.id)));
      const items = await Promise.all((task.items ?? []).map(async (item) => (item.state === 'failed' ? apply(item, await lookup(client, analysisWorkflowId(status.runId, task.id, item.index))) : item)));
      // The task's own analysis is its first failed item's: the task error is that item's too.
      const first = items.find((item) => item.state === 'failed');
      return { ...task, items, ...(first?.analysis ? { analysis: first.analysis } : {}), ...(first?.analysisPending ? { analysisPending: true } : {}) };
    }),
  );
  return { ...status, tasks };
}

/** Waits (bounded) until no failed task's analysis is pending; returns the last status read. */
export async function waitForAnalyses(read: () => Promise<DagRunStatus>, status: DagRunStatus, limitMs: number): Promise<DagRunStatus> {
  let current = status;
  const deadline = Date.now() + limitMs;
  while (current.tasks.some((task) => task.analysisPending) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    current = await read();
  }
  return current;
}
