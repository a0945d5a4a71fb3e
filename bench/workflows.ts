import * as wf from '@temporalio/workflow';
import type { ActionInvocation, ActionResult } from '../activities/actions/action-types';

export { dagRun } from '../workflows/dag-run';

/** Hand-written baselines: the same noop activity, called the way one would without the interpreter. */
const { noop } = wf.proxyActivities<{ noop(invocation: ActionInvocation): Promise<ActionResult> }>({ startToCloseTimeout: '1 minute' });

function invocation(index: number): ActionInvocation {
  return { runId: wf.workflowInfo().workflowId, dagId: 'bench/plain', taskId: `t${index}`, with: {} };
}

export async function plainChain(count: number): Promise<number> {
  for (let index = 0; index < count; index += 1) await noop(invocation(index));
  return count;
}

export async function plainFanOut(count: number): Promise<number> {
  await Promise.all(Array.from({ length: count }, (_, index) => noop(invocation(index))));
  return count;
}
