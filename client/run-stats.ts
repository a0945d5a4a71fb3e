import { z } from 'zod';

/**
 * Run analytics per DAG from plain run records: counts, success rate, duration percentiles and
 * failure categories. Pure: the records come from Temporal visibility (client/stats.ts), or a test.
 */

export const STATS_RUN_STATES = ['succeeded', 'failed', 'cancelled', 'running'] as const;
export type StatsRunState = (typeof STATS_RUN_STATES)[number];

/** One DAG run as the analytics see it. */
export interface RunRecord {
  runId: string;
  dagId: string;
  state: StatsRunState;
  startedAt: string;
  endedAt?: string;
  /** Error type of the run's first failed task (CommandFailed, Timeout...), when visibility has it. */
  errorType?: string;
  /** Id of that task, to find its analysis. */
  failedTask?: string;
  /** The analysis category of that task (rules or model), when it was read. */
  category?: string;
}

const Count = z.number().int().nonnegative();
const Tally = z.record(z.string(), Count);

export const DagStats = z.object({
  dag: z.string(),
  runs: Count,
  succeeded: Count,
  failed: Count,
  /** Cancelled or terminated. */
  cancelled: Count,
  running: Count,
  /** succeeded / (succeeded + failed), 0..1; null before any run ended either way. */
  successRate: z.number().min(0).max(1).nullable(),
  /** Durations of the runs that ended succeeded or failed, in ms (nearest rank). */
  durationMs: z.object({ p50: z.number().nonnegative().nullable(), p95: z.number().nonnegative().nullable(), count: Count }),
  /** Failed runs by the error type of their first failed task (`none` when the run recorded no task error: timed out). */
  errorTypes: Tally,
  /** Failed runs by the analysis category of their first failed task, for those whose analysis was read. */
  categories: Tally,
  /** How many failed runs had their analysis read (the rest are not in `categories`). */
  categorised: Count,
});
export type DagStats = z.infer<typeof DagStats>;

export const RunStats = z.object({
  /** Runs started at or after this time (ISO) ... */
  since: z.string(),
  /** ... up to this one, when the figures were read. */
  until: z.string(),
  dag: z.string().optional(),
  dags: z.array(DagStats),
  /** Runs read from visibility. */
  scanned: Count,
  /** False when more runs matched than are read at once (the figures cover the newest `scanned`). */
  complete: z.boolean(),
  /** At most this many failed runs (the latest) have their analysis read for `categories`. */
  categoryLimit: Count,
});
export type RunStats = z.infer<typeof RunStats>;

/** The value at percentile `p` (0..100) of ascending `sorted`, by nearest rank; null when empty. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? null;
}

function bump(tally: Record<string, number>, key: string): void {
  tally[key] = (tally[key] ?? 0) + 1;
}

function statsOf(dag: string, records: readonly RunRecord[]): DagStats {
  const count = (state: StatsRunState): number => records.filter((record) => record.state === state).length;
  const succeeded = count('succeeded');
  const failed = count('failed');
  const durations = records
    .filter((record) => (record.state === 'succeeded' || record.state === 'failed') && record.endedAt)
    .map((record) => Math.max(0, Date.parse(record.endedAt as string) - Date.parse(record.startedAt)))
    .filter((ms) => Number.isFinite(ms))
    .sort((a, b) => a - b);
  const errorTypes: Record<string, number> = {};
  const categories: Record<string, number> = {};
  let categorised = 0;
  for (const record of records) {
    if (record.state !== 'failed') continue;
    bump(errorTypes, record.errorType ?? 'none');
    if (record.category === undefined) continue;
    bump(categories, record.category);
    categorised += 1;
  }
  return {
    dag,
    runs: records.length,
    succeeded,
    failed,
    cancelled: count('cancelled'),
    running: count('running'),
    successRate: succeeded + failed === 0 ? null : succeeded / (succeeded + failed),
    durationMs: { p50: percentile(durations, 50), p95: percentile(durations, 95), count: durations.length },
    errorTypes,
    categories,
    categorised,
  };
}

/** Figures per DAG, DAGs in id order. */
export function aggregateRunStats(records: readonly RunRecord[]): DagStats[] {
  const byDag = new Map<string, RunRecord[]>();
  for (const record of records) {
    const list = byDag.get(record.dagId) ?? [];
    list.push(record);
    byDag.set(record.dagId, list);
  }
  return [...byDag.keys()].sort().map((dag) => statsOf(dag, byDag.get(dag) ?? []));
}

/** The failed runs whose analysis is worth reading: those with a failed task, latest ended first, at most `limit`. */
export function runsToCategorise(records: readonly RunRecord[], limit: number): RunRecord[] {
  return records
    .filter((record) => record.state === 'failed' && record.failedTask !== undefined)
    .sort((a, b) => (b.endedAt ?? '').localeCompare(a.endedAt ?? ''))
    .slice(0, Math.max(0, limit));
}
