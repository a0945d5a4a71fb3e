import type { RunLookup } from '../workers/local-tools';
import type { CliContext } from './context';

/** Lines of a task's log an answer is given. */
const LOG_TAIL_LINES = 30;

/**
 * The runs `qubinode ai ask` may read, through the CLI's backend (Temporal directly, or the API as the
 * caller): a compact status, and the end of one task's log. Read-only.
 */
export function runLookup(context: CliContext): RunLookup {
  return {
    status: async (runId) => {
      const status = await context.backend().runStatus(runId);
      return {
        runId: status.runId,
        dagId: status.dagId,
        state: status.state,
        ...(status.reason ? { reason: status.reason } : {}),
        tasks: status.tasks.map((task) => ({ id: task.id, state: task.state, attempt: task.attempt, ...(task.runsOn ? { runsOn: task.runsOn } : {}), ...(task.error ? { error: `${task.error.type}: ${task.error.message.slice(0, 300)}` } : {}) })),
      };
    },
    logTail: async (runId, taskId) => {
      const logs = await context.backend().runLogs({ runId, taskId, maxBytes: 256 * 1024 });
      const lines = logs.files.map((file) => file.text).join('\n').trimEnd().split('\n');
      return lines.slice(-LOG_TAIL_LINES).join('\n') || '(empty log)';
    },
  };
}
