import type { Command } from 'commander';
import type { DagStats, RunStats } from '../../client/run-stats';
import type * as StatsRequestModule from '../../client/stats-request';
import { CliError, type CliContext } from '../context';
import { table } from '../output';

// Loaded by the action that uses it (see cli/main.ts).
const statsRequest = (): typeof StatsRequestModule => require('../../client/stats-request') as typeof StatsRequestModule;

function durationText(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** `a 3, b 1`: most frequent first. */
function tallyText(tally: Readonly<Record<string, number>>): string {
  return Object.entries(tally)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([key, count]) => `${key} ${count}`)
    .join(', ');
}

function categoriesText(dag: DagStats): string {
  if (dag.failed === 0) return '';
  const read = dag.categorised === dag.failed ? '' : ` (${dag.categorised}/${dag.failed} read)`;
  return `${tallyText(dag.categories) || '-'}${read}`;
}

/** The figures as a table, one line per DAG, and a line saying what they cover. */
export function statsText(stats: RunStats): string {
  const rows = stats.dags.map((dag) => [
    dag.dag,
    String(dag.runs),
    String(dag.succeeded),
    String(dag.failed),
    String(dag.cancelled),
    String(dag.running),
    dag.successRate === null ? '-' : `${(dag.successRate * 100).toFixed(1)}%`,
    durationText(dag.durationMs.p50),
    durationText(dag.durationMs.p95),
    tallyText(dag.errorTypes),
    categoriesText(dag),
  ]);
  const cover = [
    `runs started since ${stats.since}: ${stats.scanned} read${stats.complete ? '' : ' (more matched: the figures cover the newest)'}`,
    `success rate = succeeded / (succeeded + failed); p50/p95 over runs that succeeded or failed`,
    `categories from the failure analyses of the latest ${stats.categoryLimit} failed runs at most`,
  ];
  if (rows.length === 0) return `no DAG runs${stats.dag ? ` of ${stats.dag}` : ''} started since ${stats.since}`;
  return [table(['DAG', 'RUNS', 'OK', 'FAILED', 'CANCELLED', 'RUNNING', 'SUCCESS', 'P50', 'P95', 'ERROR TYPES', 'CATEGORIES'], rows), '', ...cover].join('\n');
}

export function registerStatsCommands(program: Command, context: CliContext): void {
  program
    .command('stats')
    .description('Run analytics per DAG from Temporal visibility: runs by state, success rate, p50/p95 duration, failure error types and analysis categories')
    .option('--dag <id>', 'only this DAG (catalog id <repo>/<dag id>)')
    .option('--since <window>', 'runs started in this window: 90m, 24h, 7d, 2w, or an ISO date or date-time with an offset (default 7d)')
    .option('--json', 'print as JSON')
    .action(async (options: { dag?: string; since?: string; json?: boolean }) => {
      const { BadStatsRequestError, checkedCatalogId, DEFAULT_STATS_WINDOW, windowStart } = statsRequest();
      const since = options.since ?? DEFAULT_STATS_WINDOW;
      try {
        // Checked here too, so a bad value is a usage error on either backend, before anything is dialled.
        windowStart(since);
        if (options.dag !== undefined) checkedCatalogId(options.dag);
      } catch (error) {
        if (error instanceof BadStatsRequestError) throw new CliError(error.message, 2);
        throw error;
      }
      const stats = await context.backend().runStats({ since, ...(options.dag !== undefined ? { dag: options.dag } : {}) });
      console.log(options.json ? JSON.stringify(stats, null, 2) : statsText(stats));
    });
}
