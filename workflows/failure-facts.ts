import type { FailureFacts } from '../dag-repos/actions/failure-analysis';
import { failureName, type TaskError } from './run-status';

/** Plain functions (no workflow APIs): the analysis workflow and the CLI's `ai analyze` both build facts here. */

const MAX_TAIL = 4000;

function failedTaskLines(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.slice(0, 10).map((entry) => {
    if (entry === null || typeof entry !== 'object') return String(entry);
    const { host, task, module, message } = entry as Record<string, unknown>;
    return `${String(host ?? '?')}: ${String(task ?? '?')} (${String(module ?? '?')}): ${String(message ?? '')}`.slice(0, 600);
  });
}

const clip = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value.slice(-MAX_TAIL) : undefined);

/** The facts of a failed task, from its TaskError, for the analysis workflow's input. */
export function factsOf(failure: { runId: string; dagId: string; taskId: string; action: string; error: TaskError; item?: number }): FailureFacts {
  const details = failure.error.details ?? {};
  const exitCode = details.exitCode;
  const stdoutTail = clip(details.stdoutTail) ?? clip(details.bodyTail);
  const stderrTail = clip(details.stderrTail);
  const failedTasks = failedTaskLines(details.failedTasks);
  return {
    runId: failure.runId,
    dagId: failure.dagId,
    taskId: failure.taskId,
    ...(failure.item !== undefined ? { item: failure.item } : {}),
    action: failure.action,
    errorType: failureName(failure.error),
    message: failure.error.message.slice(0, 2000),
    ...(typeof exitCode === 'number' ? { exitCode } : {}),
    ...(stdoutTail ? { stdoutTail } : {}),
    ...(stderrTail ? { stderrTail } : {}),
    ...(failedTasks ? { failedTasks } : {}),
  };
}

