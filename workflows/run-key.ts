import { runWorkflowId } from './workflow-ids';

/**
 * Patch id: a run started by a Temporal Schedule takes its run key from its own workflow id. Every firing of a
 * schedule carries the same input (`sched-<n>`), and the schedule makes each workflow id distinct by appending
 * the time it fired; sub-DAG, rollout and action workflow ids, and `run.key`, must be as distinct.
 */
export const SCHEDULED_RUN_KEY = 'scheduled-run-key';

/**
 * The run key the workflow id says, when it differs from the one in the input: `dag/<catalog id>/<key>` where
 * `<key>` extends the given key (a schedule appends `-<time>`). Undefined when the two agree (every run not
 * started by a schedule).
 */
export function runKeyFromWorkflowId(workflowId: string, catalogId: string, given: string): string | undefined {
  const prefix = runWorkflowId(catalogId, '');
  if (!workflowId.startsWith(prefix)) return undefined;
  const own = workflowId.slice(prefix.length);
  return own !== given && own.startsWith(`${given}-`) ? own : undefined;
}
