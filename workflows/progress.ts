import { TASK_STATE_ICON, TASK_STATES, type DagRunStatus, type TaskState, type TaskStatus } from './run-status';


const MAX_ROWS = 40;

/** What the progress text shows: running counts and the first rows, so a DAG run can keep it without walking every task. */
export interface ProgressView {
  dagId: string;
  state: DagRunStatus['state'];
  done: number;
  total: number;
  /** Tasks per state. */
  counts: ReadonlyMap<TaskState, number>;
  /** The first `count` tasks in DAG order. */
  firstTasks: (count: number) => readonly TaskStatus[];
  waitingForWindow?: string;
  waitingForHost?: DagRunStatus['waitingForHost'];
}

/** Markdown for the Temporal UI's "current details": progress line and the first tasks; costs the same for any number of tasks. */
export function describeProgressView(view: ProgressView): string {
  const tally = TASK_STATES.map((state) => [state, view.counts.get(state) ?? 0] as const)
    .filter(([, count]) => count > 0)
    .map(([state, count]) => `${count} ${state}`)
    .join(', ');
  const rows = view.firstTasks(MAX_ROWS).map((task) => {
    const items = task.items ? ` (${task.items.filter((item) => item.state === 'succeeded').length}/${task.items.length} items)` : '';
    const note = task.error ? ` — ${task.error.type}: ${task.error.message.slice(0, 80)}` : task.reason ? ` — ${task.reason}` : '';
    return `| ${TASK_STATE_ICON[task.state]} | ${task.id} | ${task.action} | ${task.state}${items}${note} |`;
  });
  const more = view.total > MAX_ROWS ? [`| | … ${view.total - MAX_ROWS} more | | |`] : [];
  const wait = view.waitingForHost;
  return [
    `**${view.dagId}** · ${view.state} · ${view.done}/${view.total} tasks done (${tally})`,
    ...(view.waitingForWindow ? ['', `waiting for maintenance window (opens ${view.waitingForWindow})`] : []),
    ...(wait ? ['', `waiting for ${wait.host}${wait.heldBy ? ` (held by ${wait.heldBy} since ${wait.since ?? '?'})` : ''}`] : []),
    '',
    '| | task | action | state |',
    '|---|---|---|---|',
    ...rows,
    ...more,
  ].join('\n');
}
