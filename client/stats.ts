import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { DAG_KEY } from '../workflows/search-attributes';
import { analysisWorkflowId } from '../workflows/workflow-ids';
import { aggregateRunStats, runsToCategorise, type RunRecord, type RunStats, type StatsRunState } from './run-stats';
import { DEFAULT_STATS_WINDOW, statsQuery, windowStart } from './stats-request';

/** What `qubinode stats` and GET /api/stats ask for: a window (`7d` when absent) and, optionally, one DAG. */
export interface StatsRequest {
  dag?: string;
  since?: string;
}

export interface StatsLimits {
  /** Runs read from visibility at most; more make the answer `complete: false`. */
  maxRuns?: number;
  /** Failed runs whose analysis is read at most (one describe and one result each). */
  categoryLimit?: number;
  now?: Date;
}

export const STATS_MAX_RUNS = 10_000;
export const STATS_CATEGORY_LIMIT = 50;
const LOOKUPS_AT_ONCE = 4;
// Categories are short kebab-case words (ai/analysis.ts ANALYSIS_CATEGORIES); anything else in a result is not counted.
const CATEGORY = /^[a-z][a-z0-9-]{0,39}$/;

const STATE_OF: Partial<Record<string, StatsRunState>> = {
  RUNNING: 'running',
  COMPLETED: 'succeeded',
  FAILED: 'failed',
  TIMED_OUT: 'failed',
  CANCELLED: 'cancelled',
  TERMINATED: 'cancelled',
};

interface MemoTask {
  id?: unknown;
  state?: unknown;
  error?: { type?: unknown; reportedType?: unknown };
}

/** The first failed task of a closed run, from the status dagRun keeps in its memo when it ends. */
function firstFailure(memo: Record<string, unknown> | undefined): { failedTask: string; errorType: string } | undefined {
  const tasks = (memo?.status as { tasks?: unknown } | undefined)?.tasks;
  if (!Array.isArray(tasks)) return undefined;
  const failed = (tasks as MemoTask[]).find((task) => task?.state === 'failed' && typeof task.id === 'string');
  if (!failed) return undefined;
  // An Unclassified failure is tallied under the name it reported (a plugin's type), as the run shows it.
  const type = failed.error?.reportedType ?? failed.error?.type;
  return { failedTask: failed.id as string, errorType: typeof type === 'string' && type !== '' ? type.slice(0, 80) : 'unknown' };
}

function recordOf(execution: WorkflowExecutionInfo): RunRecord | undefined {
  const state = STATE_OF[execution.status.name];
  // A run continued as new goes on under the same id; its next execution is counted instead.
  if (!state) return undefined;
  const failure = state === 'failed' ? firstFailure(execution.memo) : undefined;
  return {
    runId: execution.workflowId,
    dagId: String(execution.typedSearchAttributes.get(DAG_KEY) ?? ''),
    state,
    startedAt: execution.startTime.toISOString(),
    ...(execution.closeTime ? { endedAt: execution.closeTime.toISOString() } : {}),
    ...(failure ?? {}),
  };
}

/** DAG runs matching a visibility query, at most `maxRuns`; `complete` is false when more matched. */
export async function listRunRecords(client: Client, query: string, maxRuns: number): Promise<{ records: RunRecord[]; complete: boolean }> {
  const records: RunRecord[] = [];
  for await (const execution of client.workflow.list({ query, pageSize: Math.min(Math.max(maxRuns, 1), 1000) })) {
    if (records.length >= maxRuns) return { records, complete: false };
    const record = recordOf(execution);
    if (record) records.push(record);
  }
  return { records, complete: true };
}

/** The category of a completed analysis of a run's failed task; undefined while it runs or when there is none. */
async function analysisCategory(client: Client, record: RunRecord): Promise<string | undefined> {
  const handle = client.workflow.getHandle(analysisWorkflowId(record.runId, record.failedTask ?? ''));
  try {
    if ((await handle.describe()).status.name !== 'COMPLETED') return undefined;
    const category = ((await handle.result()) as { category?: unknown } | undefined)?.category;
    return typeof category === 'string' && CATEGORY.test(category) ? category : undefined;
  } catch {
    // No analysis (started before analyses existed, or a forEach item's): the run stays uncategorised.
    return undefined;
  }
}

async function categorise(client: Client, records: RunRecord[], limit: number): Promise<void> {
  const queue = runsToCategorise(records, limit);
  const worker = async (): Promise<void> => {
    for (let record = queue.shift(); record; record = queue.shift()) {
      const category = await analysisCategory(client, record);
      if (category !== undefined) record.category = category;
    }
  };
  await Promise.all(Array.from({ length: LOOKUPS_AT_ONCE }, worker));
}

/**
 * Success rate, p50/p95 duration, error types and analysis categories per DAG, for runs started in
 * the window. Counts, durations and error types come from visibility alone (search attributes and the
 * status memo a run writes when it ends); categories from the analyses of at most `categoryLimit`
 * latest failed runs, each read by id.
 */
export async function readRunStats(client: Client, request: StatsRequest, limits: StatsLimits = {}): Promise<RunStats> {
  const now = limits.now ?? new Date();
  const since = windowStart(request.since ?? DEFAULT_STATS_WINDOW, now);
  const query = statsQuery(since, request.dag);
  const categoryLimit = limits.categoryLimit ?? STATS_CATEGORY_LIMIT;
  const { records, complete } = await listRunRecords(client, query, limits.maxRuns ?? STATS_MAX_RUNS);
  await categorise(client, records, categoryLimit);
  return {
    since: since.toISOString(),
    until: now.toISOString(),
    ...(request.dag !== undefined ? { dag: request.dag } : {}),
    dags: aggregateRunStats(records),
    scanned: records.length,
    complete,
    categoryLimit,
  };
}
