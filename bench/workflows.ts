import * as wf from '@temporalio/workflow';
import type { ActionInvocation, ActionResult } from '../dag-repos/actions/action-types';

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

/** `inFlight` lanes at most, as a DAG's `concurrency` bounds its tasks (Temporal refuses over 2,000 pending activities per workflow). */
export async function plainFanOut(count: number, inFlight = count): Promise<number> {
  const lanes = Math.min(inFlight, count);
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let index = lane; index < count; index += lanes) await noop(invocation(index));
    }),
  );
  return count;
}
