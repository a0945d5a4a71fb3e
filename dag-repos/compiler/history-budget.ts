import type { CompiledDag, CompiledTask } from './compiled-dag';

/**
 * One DAG run is one Temporal workflow, and one workflow's history has limits the server enforces by
 * terminating the run. A DAG that could reach them is refused when it is compiled, naming the limit.
 */
export const HISTORY_LIMITS = {
  /** Temporal's default limit on events in one workflow history (history.maximumHistoryCountLimit). */
  maxEvents: 51_200,
  /** Kept for what a run does besides its tasks: start, search attributes, memo, host locks, failure analyses, compensations. */
  reservedEvents: 5_120,
  /** Temporal's default limit on one payload; the compiled DAG (children included) is the run's input. */
  maxInputBytes: 2 * 1024 * 1024,
  /** Items one forEach may give at run time (an expression list is counted as one run here: its length is known only then). */
  maxForEachItems: 1000,
} as const;

/**
 * Events one task run adds when it succeeds: an activity is scheduled, started and completed, and the
 * workflow task that follows is scheduled, started and completed. A child workflow (sub-DAG, rollout),
 * a timer or an approval is counted at the most of those, started and ended in separate workflow tasks.
 */
const EVENTS_PER_ACTIVITY = 6;
const EVENTS_PER_OTHER = 9;

export interface HistoryBudgetProblem {
  /** Where in the document: `tasks`, or the root for the input size. */
  field: 'tasks' | '';
  message: string;
}

function runsOf(task: CompiledTask): number {
  if (task.forEach === undefined) return 1;
  // A list from an expression is as long as the run makes it; counting each at the 1,000 it may reach would
  // refuse ordinary DAGs with a handful of such tasks. It is counted as one run, and limited when the run reaches it.
  return Array.isArray(task.forEach) ? task.forEach.length : 1;
}

/** The most history events the tasks of one run can add (each task and each forEach item run once). */
export function taskEvents(tasks: readonly CompiledTask[]): { events: number; runs: number } {
  let events = 0;
  let runs = 0;
  for (const task of tasks) {
    const count = runsOf(task);
    runs += count;
    events += count * (task.execution.kind === 'activity' ? EVENTS_PER_ACTIVITY : EVENTS_PER_OTHER);
  }
  return { events, runs };
}

/** The problems that would stop one run of `dag` in a single workflow history; empty when it fits. */
export function historyBudgetProblems(dag: CompiledDag): HistoryBudgetProblem[] {
  const problems: HistoryBudgetProblem[] = [];
  const { events, runs } = taskEvents(dag.tasks);
  const budget = HISTORY_LIMITS.maxEvents - HISTORY_LIMITS.reservedEvents;
  if (events > budget) {
    const items = runs > dag.tasks.length ? ` and forEach items (${runs} task runs at most)` : '';
    problems.push({
      field: 'tasks',
      message:
        `${dag.tasks.length} tasks${items} need up to ${events} workflow history events; one run's history holds ${HISTORY_LIMITS.maxEvents} ` +
        `(Temporal's limit), ${budget} of them for tasks: split the DAG into sub-DAGs (uses: dag), each runs in its own history`,
    });
  }
  const bytes = utf8Length(JSON.stringify(dag));
  if (bytes > HISTORY_LIMITS.maxInputBytes) {
    problems.push({
      field: '',
      message: `the compiled DAG (sub-DAGs included) is ${bytes} bytes, the input of its run; Temporal refuses a payload over ${HISTORY_LIMITS.maxInputBytes} bytes: split it or move long scripts into files of the repository`,
    });
  }
  return problems;
}

/** Bytes of `text` as UTF-8 (the compiler also runs inside workflows, where TextEncoder is not to be relied on). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let at = 0; at < text.length; at += 1) {
    const code = text.charCodeAt(at);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && at + 1 < text.length) {
      bytes += 4;
      at += 1;
    } else bytes += 3;
  }
  return bytes;
}
