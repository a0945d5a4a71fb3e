import type { Command } from 'commander';
import type { DagRunStatus, TaskStatus } from '../../client/workflow-views';
import type * as RunIds from '../../client/run-ids';
import { CliError, type CliContext } from '../context';
import { durationBetween, stateIcon, table } from '../output';

// Loaded by the action (see cli/main.ts).
const runIds = (): typeof RunIds => require('../../client/run-ids') as typeof RunIds;

/** How `qubinode watch` exits: the run's outcome, or why it could not follow one. */
const WATCH_EXIT = { succeeded: 0, failed: 1, usage: 2, cancelled: 3, notFound: 4 } as const;

const POLL_MS = 1000;
/** Reads in a row that may fail (Temporal restarting, a worker busy) before watch gives up. */
const MAX_FAILED_READS = 30;
const MAX_RUN_ID_LENGTH = 400;
// dag/<repo>/<dag id>/<run key>: each part starts with a letter or digit (no "." or ".." parts);
// run keys of scheduled runs carry a time (":", "+").
const RUN_ID = /^dag\/[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._:+@=-]*$/;

/** The run id as Temporal names it, or a usage error saying what is wrong with it (nothing is asked of Temporal). */
function checkedRunId(given: string): string {
  const shown = JSON.stringify(given.length > 80 ? `${given.slice(0, 80)}…` : given);
  if (given.length > MAX_RUN_ID_LENGTH) throw new CliError(`run id ${shown}: longer than ${MAX_RUN_ID_LENGTH} characters`, WATCH_EXIT.usage);
  const runId = runIds().normaliseRunId(given);
  if (!RUN_ID.test(runId)) throw new CliError(`run id ${shown}: expected dag/<repo>/<dag id>/<run key> of letters, digits, ".", "_" and "-", as \`qubinode runs\` lists them`, WATCH_EXIT.usage);
  return runId;
}

function runsOnText(task: TaskStatus): string {
  const hosts = new Set([task.runsOn, ...(task.items ?? []).map((item) => item.runsOn)].filter((host): host is string => Boolean(host)));
  return [...hosts].join(',');
}

function stateText(task: TaskStatus): string {
  const items = task.items ? ` ${task.items.filter((item) => item.state === 'succeeded').length}/${task.items.length}` : '';
  return `${stateIcon(task.state)} ${task.state}${items}`;
}

/** The live table: one row per task. */
function watchTable(status: DagRunStatus): string {
  return table(
    ['TASK', 'STATE', 'ATTEMPT', 'DURATION', 'RUNS ON'],
    status.tasks.map((task) => [task.id, stateText(task), task.attempt > 0 ? String(task.attempt) : '', durationBetween(task.startedAt, task.endedAt), runsOnText(task)]),
  );
}

function headline(status: DagRunStatus): string {
  return `${status.runId}  ${status.state}  ${status.progress.done}/${status.progress.total} tasks  ${durationBetween(status.startedAt, status.endedAt)}`;
}

/** Where a redraw goes: a terminal is redrawn in place, anything else gets one line per change. */
interface WatchOutput {
  update(status: DagRunStatus): void;
  finish(status: DagRunStatus): void;
}

function terminalOutput(stream: NodeJS.WriteStream): WatchOutput {
  let drawn = 0;
  const draw = (status: DagRunStatus): void => {
    const text = `${headline(status)}\n\n${watchTable(status)}\n`;
    // Back to the first line drawn last time, clear to the end of the screen, draw again.
    stream.write(`${drawn > 0 ? `\x1b[${drawn}A\r\x1b[J` : ''}${text}`);
    // Rows on the screen, not lines: a line wider than the terminal wraps onto more than one.
    const width = stream.columns > 0 ? stream.columns : 80;
    drawn = text.slice(0, -1).split('\n').reduce((rows, line) => rows + Math.max(1, Math.ceil(line.length / width)), 0);
  };
  return { update: draw, finish: draw };
}

function lineOutput(write: (line: string) => void): WatchOutput {
  const seen = new Map<string, string>();
  let runState = '';
  return {
    update(status) {
      if (status.state !== runState) write(`run ${status.runId} ${status.state}`);
      runState = status.state;
      for (const task of status.tasks) {
        const row = [task.id, stateText(task), task.attempt > 0 ? `attempt ${task.attempt}` : '', task.endedAt ? durationBetween(task.startedAt, task.endedAt) : '', runsOnText(task)];
        const key = row.slice(0, 3).join('|');
        if (seen.get(task.id) === key) continue;
        seen.set(task.id, key);
        write(row.filter(Boolean).join('  '));
      }
    },
    finish(status) {
      this.update(status);
      write(`${headline(status)}\n\n${watchTable(status)}`);
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function exitCodeOf(status: DagRunStatus): number {
  if (status.state === 'succeeded') return WATCH_EXIT.succeeded;
  if (status.state === 'cancelled') return WATCH_EXIT.cancelled;
  return WATCH_EXIT.failed;
}

function isNotFound(error: unknown): boolean {
  const { name, status } = error as { name?: string; status?: number };
  return name === 'RunNotFoundError' || (name === 'ApiError' && status === 404);
}

export function registerWatchCommand(program: Command, context: CliContext): void {
  program
    .command('watch')
    .description('Follow a run already going: a live task table until it ends, then exit with its outcome')
    .argument('<run>', 'run id, e.g. dag/examples/hello/20261125-201723-k3f9')
    .addHelpText(
      'after',
      `
Exit codes:
  ${WATCH_EXIT.succeeded}  the run succeeded
  ${WATCH_EXIT.failed}  the run failed (or Temporal could not be read)
  ${WATCH_EXIT.usage}  bad usage: a malformed run id
  ${WATCH_EXIT.cancelled}  the run was cancelled or terminated
  ${WATCH_EXIT.notFound}  no such run`,
    )
    .action(async (run: string) => {
      const runId = checkedRunId(run);
      const backend = context.backend();
      const output = process.stdout.isTTY ? terminalOutput(process.stdout) : lineOutput((line) => console.log(line));
      let failures = 0;
      let readOnce = false;
      for (;;) {
        let status: DagRunStatus;
        try {
          status = await backend.runStatus(runId);
          failures = 0;
          readOnce = true;
        } catch (error) {
          if (isNotFound(error)) throw new CliError(`no run "${runId}"; list runs with \`qubinode runs\``, WATCH_EXIT.notFound);
          // Once the run was read, a failed read is a hiccup (Temporal restarting, its worker busy) worth waiting out.
          failures += 1;
          if (!readOnce || failures > MAX_FAILED_READS) throw error;
          await sleep(POLL_MS);
          continue;
        }
        if (status.state !== 'running') {
          output.finish(status);
          process.exitCode = exitCodeOf(status);
          return;
        }
        output.update(status);
        await sleep(POLL_MS);
      }
    });
}
