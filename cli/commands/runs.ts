import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type * as PrepareRun from '../../client/prepare-run';
import type { CompiledDag } from '../../client/prepare-run';
import type * as LocalDags from '../../client/local-dags';
import type * as Analysis from '../../client/analysis';
import type * as RunParams from '../../client/run-params';
import type { DagRunStatus } from '../../client/workflow-views';
import type { CliBackend } from '../backend/backend';
import { CliError, type CliContext } from '../context';
import { runControlText } from './approvals';
import { registerLogsCommand } from './logs';
import { analysisText, durationBetween, failureName, hostWaitText, runHeader, runJson, stateIcon, table, taskTable } from '../output';

// Loaded by the action that uses them (see cli/main.ts).
const prepareRun = (): typeof PrepareRun => require('../../client/prepare-run') as typeof PrepareRun;
const localDags = (): typeof LocalDags => require('../../client/local-dags') as typeof LocalDags;
const waitForAnalyses: typeof Analysis.waitForAnalyses = (...args) => (require('../../client/analysis') as typeof Analysis).waitForAnalyses(...args);
const runParams = (): typeof RunParams => require('../../client/run-params') as typeof RunParams;

function collectParam(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new CliError(`-p expects key=value, got "${value}"`, 2);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

function readParamsFile(file: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('expected a JSON object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new CliError(`--params-file ${file}: ${(error as Error).message}`, 2);
  }
}

function pendingStatus(runId: string, runKey: string, dag: CompiledDag): DagRunStatus {
  return {
    runId,
    runKey,
    dagId: dag.catalogId,
    repo: dag.origin.repo,
    commit: dag.origin.commit,
    state: 'running',
    startedAt: new Date().toISOString(),
    params: {},
    progress: { done: 0, total: dag.tasks.length },
    tasks: dag.tasks.map((task) => ({ id: task.id, action: task.action, state: 'pending', attempt: 0 })),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls the run, printing one line per task state change, until it ends. */
async function followRun(backend: CliBackend, runId: string, quiet: boolean): Promise<DagRunStatus> {
  const seen = new Map<string, string>();
  let lastHostWait = '';
  let failures = 0;
  for (;;) {
    let status: DagRunStatus;
    try {
      status = await backend.runStatus(runId);
      failures = 0;
    } catch (error) {
      failures += 1;
      if (failures > 30) throw error;
      await sleep(1000);
      continue;
    }
    if (!quiet) {
      const hostWait = status.waitingForHost ? hostWaitText(status.waitingForHost) : '';
      if (hostWait && hostWait !== lastHostWait) console.log(`  … ${hostWait}`);
      lastHostWait = hostWait;
      for (const task of status.tasks) {
        const items = task.items ? ` ${task.items.filter((item) => item.state === 'succeeded').length}/${task.items.length}` : '';
        const key = `${task.state}${items}#${task.attempt}`;
        if (seen.get(task.id) === key) continue;
        if (!seen.has(task.id) && task.state === 'pending') {
          seen.set(task.id, key);
          continue;
        }
        seen.set(task.id, key);
        const extra = task.error ? ` — ${failureName(task.error)}: ${task.error.message.split('\n')[0]}` : task.reason ? ` — ${task.reason}` : task.attempt > 1 ? ` (attempt ${task.attempt})` : '';
        const time = task.endedAt ? ` in ${durationBetween(task.startedAt, task.endedAt)}` : '';
        console.log(`  ${stateIcon(task.state)} ${task.id.padEnd(20)} ${task.state}${items}${time}${extra}`);
      }
    }
    if (status.state !== 'running') return status;
    await sleep(500);
  }
}

export function registerRunCommands(program: Command, context: CliContext): void {
  program
    .command('run')
    .description('Start a DAG run (a durable Temporal workflow)')
    .argument('<dag>', 'catalog id (e.g. examples/hello) or a DAG file path')
    .option('-p, --param <key=value>', 'a param value; repeat for more', collectParam, {})
    .option('--params-file <file>', 'params from a JSON object file (-p wins)')
    .option('--key <runKey>', 'run key (workflow id suffix); a second run with the same key is refused')
    .option('-w, --wait', 'follow the run until it ends; exit 1 unless it succeeded')
    .option('--json', 'print the run as JSON')
    .action(async (ref: string, options: { param: Record<string, string>; paramsFile?: string; key?: string; wait?: boolean; json?: boolean }) => {
      const given = { ...(options.paramsFile ? readParamsFile(options.paramsFile) : {}), ...options.param };
      const backend = context.backend();
      const { looksLikePath } = localDags();
      if (looksLikePath(ref) && backend.mode === 'api') throw new CliError(`${ref}: through the API only catalog DAGs run (push the file to a DAG repository, or use a catalog id)`, 2);
      const dag = looksLikePath(ref) ? prepareRun().findDag(context.localCatalog(), context.registry, ref) : await backend.dag(ref);
      const resolved = runParams().resolveParams(dag.params, given, { fromStrings: true });
      const started = await backend.startRun({ dag, params: resolved, given: Object.keys(given), ...(options.key ? { runKey: options.key } : {}) });
      const url = started.url;
      if (!options.json) {
        console.log(`started ${started.runId}`);
        if (url) console.log(`  web UI  ${url}`);
        if (!options.wait) console.log(`  status  qubinode status ${started.runId}`);
      }
      if (!options.wait) {
        if (options.json) console.log(JSON.stringify({ ...runJson(pendingStatus(started.runId, started.runKey, dag)), url }, null, 2));
        return;
      }
      // The AI analysis of a failure comes a few seconds after the run ends; wait for it, bounded.
      const final = await waitForAnalyses(() => backend.runStatus(started.runId), await followRun(backend, started.runId, Boolean(options.json)), context.config.ai.timeoutMs + 15_000);
      if (options.json) console.log(JSON.stringify({ ...runJson(final), url }, null, 2));
      else console.log([`\n${runHeader(final)}\n\n${taskTable(final)}`, ...final.tasks.map(analysisText).filter(Boolean)].join('\n\n'));
      if (final.state !== 'succeeded') process.exitCode = 1;
    });

  program
    .command('runs')
    .description('List runs from Temporal visibility, newest first')
    .option('--dag <id>', 'only runs of this DAG')
    .option('--status <state>', 'running, succeeded, failed or cancelled')
    .option('--waiting', 'only runs waiting for an approval (same as --status waiting)')
    .option('--started-by <user>', 'only runs started by this person')
    .option('--limit <n>', 'at most this many', (value) => Number.parseInt(value, 10), 50)
    .option('--json', 'print as JSON')
    .action(async (options: { dag?: string; status?: string; waiting?: boolean; startedBy?: string; limit: number; json?: boolean }) => {
      if (options.waiting) options.status = 'waiting';
      if (options.status && !['running', 'succeeded', 'failed', 'cancelled', 'waiting'].includes(options.status)) {
        throw new CliError(`--status must be running, succeeded, failed, cancelled or waiting, got "${options.status}"`, 2);
      }
      const runs = await context.backend().listRuns({ ...(options.dag ? { dag: options.dag } : {}), ...(options.status ? { status: options.status } : {}), ...(options.startedBy !== undefined ? { startedBy: options.startedBy } : {}), limit: options.limit });
      if (options.json) console.log(JSON.stringify(runs, null, 2));
      else if (runs.length === 0) console.log('no runs');
      else console.log(table(['RUN', 'STATE', 'STARTED', 'TIME', 'COMMIT', 'BY'], runs.map((run) => [run.runId, run.state, run.startedAt, durationBetween(run.startedAt, run.endedAt), run.commit.slice(0, 12), run.startedBy ?? ''])));
    });

  program
    .command('status')
    .description('Show a run: state, per-task progress, errors')
    .argument('<run>', 'run id, e.g. dag/examples/hello/20261125-201723-k3f9')
    .option('--json', 'print as JSON')
    .action(async (run: string, options: { json?: boolean }) => {
      const backend = context.backend();
      const status = await backend.runStatus(run);
      if (options.json) console.log(JSON.stringify(runJson(status), null, 2));
      else {
        const url = backend.runUrl(status.runId);
        console.log(`${runHeader(status)}${url ? `\nweb UI  ${url}` : ''}\n\n${taskTable(status)}`);
        for (const task of status.tasks.filter((candidate) => candidate.error?.details)) {
          const details = task.error?.details ?? {};
          const tail = [details.stderrTail, details.stdoutTail].find((text) => typeof text === 'string' && text.trim() !== '');
          if (tail) console.log(`\n${task.id} output (tail):\n${String(tail).trimEnd().split('\n').slice(-10).map((line) => `  ${line}`).join('\n')}`);
        }
        for (const text of status.tasks.map(analysisText).filter(Boolean)) console.log(`\n${text}`);
        const extras = runControlText(status);
        if (extras) console.log(`\n${extras}`);
      }
    });

  program
    .command('cancel')
    .description('Cancel a running run: running tasks are stopped and their processes killed')
    .argument('<run>', 'run id')
    .action(async (run: string) => {
      console.log(`cancellation requested for ${await context.backend().cancelRun(run)}`);
    });

  registerLogsCommand(program, context);
}
