import type * as WorkflowViews from '../client/workflow-views';
import type { DagRunStatus, TaskState, TaskStatus } from '../client/workflow-views';

// Loaded when a run is printed: every command imports this file for `table`, `--help` among them.
const workflowViews = (): typeof WorkflowViews => require('../client/workflow-views') as typeof WorkflowViews;
/** A task error's type as shown (the reported name of an unclassified one); loads the views, and zod with them, on first use. */
export const failureName: typeof WorkflowViews.failureName = (error) => workflowViews().failureName(error);

export function stateIcon(state: TaskState): string {
  return workflowViews().TASK_STATE_ICON[state];
}

/** Plain aligned columns; the last column is never padded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function durationBetween(start?: string, end?: string): string {
  if (!start) return '';
  const ms = (end ? Date.parse(end) : Date.now()) - Date.parse(start);
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

function note(task: TaskStatus): string {
  if (task.error) return `${failureName(task.error)}: ${task.error.message.split('\n')[0]?.slice(0, 100) ?? ''}`;
  if (task.reason) return task.reason;
  if (task.items) return `${task.items.filter((item) => item.state === 'succeeded').length}/${task.items.length} items`;
  return task.summary ?? '';
}

export function taskTable(status: DagRunStatus): string {
  return table(
    ['TASK', 'ACTION', 'STATE', 'ATTEMPT', 'TIME', 'NOTE'],
    status.tasks.map((task) => [
      task.id,
      task.action,
      `${stateIcon(task.state)} ${task.state}`,
      task.attempt > 0 ? String(task.attempt) : '',
      durationBetween(task.startedAt, task.endedAt),
      note(task),
    ]),
  );
}

export function runHeader(status: DagRunStatus): string {
  return [
    `run     ${status.runId}`,
    `dag     ${status.dagId}  (repo ${status.repo}, commit ${status.commit.slice(0, 12)})`,
    `state   ${status.state}${status.reason ? ` — ${status.reason}` : ''}`,
    `time    ${status.startedAt}${status.endedAt ? ` → ${status.endedAt} (${durationBetween(status.startedAt, status.endedAt)})` : ''}`,
    `tasks   ${status.progress.done}/${status.progress.total} done`,
    ...(status.waitingForWindow ? [`window  waiting for maintenance window (opens ${status.waitingForWindow})`] : []),
    ...(status.waitingForHost ? [`hosts   ${hostWaitText(status.waitingForHost)}`] : []),
  ].join('\n');
}

/** `waiting for hv1 (held by dag/x/1 since ...)`: what a run that waits for a host says. */
export function hostWaitText(wait: NonNullable<DagRunStatus['waitingForHost']>): string {
  return `waiting for ${wait.host}${wait.heldBy ? ` (held by ${wait.heldBy} since ${wait.since ?? '?'})` : ''}`;
}

/** The shape `--json` prints for a run: the status plus `status` as the run state, as scripts expect. */
export function runJson(status: DagRunStatus): Record<string, unknown> {
  return { ...status, status: status.state };
}

/** The AI analysis of a failed task, as `qubinode status` prints it under the task. */
export function analysisText(task: TaskStatus): string | undefined {
  if (task.analysisPending && !task.analysis) return `${task.id} AI analysis: still running (see it later with \`qubinode status\`)`;
  const analysis = task.analysis;
  if (!analysis) return undefined;
  const source =
    analysis.source === 'model' ? `model ${analysis.model ?? ''}`.trim() : analysis.source === 'rules+model' ? `rules + model ${analysis.model ?? ''}`.trim() : `rules${analysis.fallbackReason ? `; ${analysis.fallbackReason}` : ''}`;
  return [
    ...(task.analysisPending ? [`${task.id} AI analysis: the rules' answer below; the model is still writing its explanation`] : []),
    `${task.id} AI analysis (${source}, confidence ${analysis.confidence.toFixed(2)}):`,
    `  ${analysis.summary}`,
    `  likely cause: ${analysis.likelyCause}`,
    ...analysis.fixes.map((fix) => `  → ${fix.command ? `$ ${fix.command}` : (fix.edit ?? '')}  (${fix.why})`),
    ...(analysis.references.length ? [`  see: ${analysis.references.map((ref) => `${ref.file}:${ref.line}`).join(', ')}`] : []),
  ].join('\n');
}
