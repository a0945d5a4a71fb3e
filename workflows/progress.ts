import { TASK_STATE_ICON, type DagRunStatus, type TaskState } from './run-status';


const MAX_ROWS = 40;

/** Markdown for the Temporal UI's "current details": progress line and one row per task. */
export function describeProgress(status: DagRunStatus): string {
  const counts = new Map<TaskState, number>();
  for (const task of status.tasks) counts.set(task.state, (counts.get(task.state) ?? 0) + 1);
  const tally = [...counts.entries()].map(([state, count]) => `${count} ${state}`).join(', ');
  const rows = status.tasks.slice(0, MAX_ROWS).map((task) => {
    const items = task.items ? ` (${task.items.filter((item) => item.state === 'succeeded').length}/${task.items.length} items)` : '';
    const note = task.error ? ` — ${task.error.type}: ${task.error.message.slice(0, 80)}` : task.reason ? ` — ${task.reason}` : '';
    return `| ${TASK_STATE_ICON[task.state]} | ${task.id} | ${task.action} | ${task.state}${items}${note} |`;
  });
  const more = status.tasks.length > MAX_ROWS ? [`| | … ${status.tasks.length - MAX_ROWS} more | | |`] : [];
  const wait = status.waitingForHost;
  return [
    `**${status.dagId}** · ${status.state} · ${status.progress.done}/${status.progress.total} tasks done (${tally})`,
    ...(status.waitingForWindow ? ['', `waiting for maintenance window (opens ${status.waitingForWindow})`] : []),
    ...(wait ? ['', `waiting for ${wait.host}${wait.heldBy ? ` (held by ${wait.heldBy} since ${wait.since ?? '?'})` : ''}`] : []),
    '',
    '| | task | action | state |',
    '|---|---|---|---|',
    ...rows,
    ...more,
  ].join('\n');
}
