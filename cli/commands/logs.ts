import type { Command } from 'commander';
import type * as Logs from '../../client/logs';
import type { RunLogs, RunLogsRequest } from '../../client/logs';
import type * as RunIds from '../../client/run-ids';
import { CliError, type CliContext } from '../context';

// Loaded by the action that uses them (see cli/main.ts).
const logs = (): typeof Logs => require('../../client/logs') as typeof Logs;
const completeLines: typeof Logs.completeLines = (...args) => (require('../../client/logs') as typeof Logs).completeLines(...args);
const runIds = (): typeof RunIds => require('../../client/run-ids') as typeof RunIds;

const FOLLOW_POLL_MS = 1000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Prints log chunks line by line: a line cut at the end of a chunk waits for its rest; with more than
 * one file each line names its file.
 */
class LogPrinter {
  private readonly pending = new Map<string, string>();
  private readonly warned = new Set<string>();
  prefixed = false;

  print(read: RunLogs): void {
    if (read.matched > 1) this.prefixed = true;
    for (const { queue, message } of read.unavailable) {
      if (!this.warned.has(queue)) console.error(`qubinode: ${message} (its task logs are not shown)`);
      this.warned.add(queue);
    }
    for (const file of read.files) {
      const { lines, rest } = completeLines(this.pending.get(file.name) ?? '', file.text);
      this.pending.set(file.name, rest);
      for (const line of lines) this.line(file.name, line);
    }
  }

  /** Prints what is left of lines that never got their newline. */
  flush(): void {
    for (const [name, rest] of this.pending) if (rest !== '') this.line(name, rest);
    this.pending.clear();
  }

  private line(name: string, line: string): void {
    console.log(this.prefixed ? `${name} | ${line}` : line);
  }
}

/** `qubinode logs RUN [TASK] [--follow]`: the logs are read on the worker of each host the run's tasks ran on. */
export function registerLogsCommand(program: Command, context: CliContext): void {
  program
    .command('logs')
    .description("Print a run's task logs, read from the worker of each host the tasks ran on")
    .argument('<run>', 'run id')
    .argument('[task]', 'only this task (and its forEach items)')
    .option('-f, --follow', 'keep printing new output until the run ends')
    .action(async (run: string, task: string | undefined, options: { follow?: boolean }) => {
      const runId = runIds().normaliseRunId(run);
      const { InvalidTaskLogRequestError, UnknownLogTaskError } = logs();
      const backend = context.backend();
      const read = async (request: RunLogsRequest): Promise<RunLogs> => {
        try {
          return await backend.runLogs(request);
        } catch (error) {
          if (error instanceof InvalidTaskLogRequestError) throw new CliError(error.message, 2);
          if (error instanceof UnknownLogTaskError) throw new CliError(error.message);
          throw error;
        }
      };
      const printer = new LogPrinter();
      let from: Record<string, number> = {};
      let matched = 0;
      let unavailable: RunLogs['unavailable'] = [];
      for (;;) {
        const chunk = await read({ runId, ...(task !== undefined ? { taskId: task } : {}), from });
        printer.print(chunk);
        from = chunk.next;
        matched = Math.max(matched, chunk.matched);
        unavailable = chunk.unavailable;
        if (chunk.more) continue;
        // A state read before the logs were: once it is final, this read saw every line.
        if (!options.follow || chunk.state !== 'running') break;
        await sleep(FOLLOW_POLL_MS);
      }
      printer.flush();
      if (matched === 0) {
        const reasons = unavailable.map((entry) => entry.message);
        throw new CliError(`no logs for ${runId}${task ? ` task ${task}` : ''}${reasons.length ? `: ${reasons.join('; ')}` : ''}`);
      }
    });
}
