import type { Client } from '@temporalio/client';
import { OTHER_LABEL } from './metric-labels';

/** A run's state as Temporal reports its execution (an aborted run fails its workflow, so it counts as failed). */
export type CountedState = 'running' | 'succeeded' | 'failed' | 'cancelled' | 'terminated' | 'timed_out' | 'other';

const STATE_OF_STATUS: Readonly<Record<string, CountedState>> = {
  Running: 'running',
  Completed: 'succeeded',
  Failed: 'failed',
  Canceled: 'cancelled',
  Terminated: 'terminated',
  TimedOut: 'timed_out',
};

export interface RunCount {
  dag: string;
  state: CountedState;
  count: number;
}

export interface RunCountSnapshot {
  counts: RunCount[];
  atMs: number;
}

export interface RunCountsOptions {
  client: Client;
  /** DAG ids that get series of their own: plain names, already capped (api/metric-labels.ts). */
  dags: () => Promise<string[]>;
  /** How old a snapshot may be before a scrape counts again. */
  maxAgeMs?: number;
  /** How long a scrape waits for a count in progress before it answers with the previous snapshot. */
  maxWaitMs?: number;
  onError?: (error: unknown) => void;
}

export const DEFAULT_RUN_COUNT_MAX_AGE_MS = 15_000;
const DEFAULT_MAX_WAIT_MS = 5000;
const QUERY_DEADLINE_MS = 5000;
const PARALLEL_QUERIES = 4;

// Only plain ids (no quote, no backslash) reach a query; the caller's cap guarantees it, this repeats it.
const QUERYABLE = /^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,127}$/;

/**
 * Runs Temporal retains, by DAG and state, from visibility count queries (`GROUP BY ExecutionStatus`,
 * one per DAG plus one in all). Counted on scrape at most every `maxAgeMs`, concurrent scrapes
 * sharing one count, so Prometheus never drives Temporal harder than that. Runs of DAGs without a
 * series of their own (past the cap, or gone from the catalog) are counted under `_other`.
 */
export class RunCounts {
  private last: RunCountSnapshot | undefined;
  private lastAttemptMs = Number.NEGATIVE_INFINITY;
  private inFlight: Promise<void> | undefined;

  constructor(private readonly options: RunCountsOptions) {}

  /** The newest snapshot, counted again first when it is older than `maxAgeMs`; undefined until one count worked. */
  async current(): Promise<RunCountSnapshot | undefined> {
    if (Date.now() - this.lastAttemptMs >= (this.options.maxAgeMs ?? DEFAULT_RUN_COUNT_MAX_AGE_MS)) {
      this.inFlight ??= this.refresh().finally(() => {
        this.inFlight = undefined;
      });
    }
    // A slow Temporal must not hold a scrape past its timeout: the count goes on, the scrape gets the last one.
    if (this.inFlight) await waitAtMost(this.inFlight, this.options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS);
    return this.last;
  }

  private async refresh(): Promise<void> {
    this.lastAttemptMs = Date.now();
    try {
      const dags = (await this.options.dags()).filter((dag) => QUERYABLE.test(dag) && dag !== OTHER_LABEL);
      const all = await this.count(`WorkflowType = 'dagRun'`);
      const perDag = await inBatches(dags, PARALLEL_QUERIES, async (dag) => ({ dag, byState: await this.count(`WorkflowType = 'dagRun' AND QubinodeDag = '${dag}'`) }));
      const counts: RunCount[] = [];
      const rest = new Map(all);
      for (const { dag, byState } of perDag) {
        for (const [state, count] of byState) {
          counts.push({ dag, state, count });
          rest.set(state, (rest.get(state) ?? 0) - count);
        }
      }
      // Visibility answers each query at its own moment: a run closing in between must not go negative.
      for (const [state, count] of rest) counts.push({ dag: OTHER_LABEL, state, count: Math.max(0, count) });
      this.last = { counts, atMs: Date.now() };
    } catch (error) {
      // The previous snapshot stays; the next try waits out maxAgeMs like a success would.
      this.options.onError?.(error);
    }
  }

  private async count(query: string): Promise<Map<CountedState, number>> {
    const { client } = this.options;
    const answer = await client.connection.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => client.workflow.count(`${query} GROUP BY ExecutionStatus`));
    const byState = new Map<CountedState, number>();
    for (const group of answer.groups) {
      const state = STATE_OF_STATUS[String(group.groupValues[0] ?? '')] ?? 'other';
      byState.set(state, (byState.get(state) ?? 0) + group.count);
    }
    return byState;
  }
}

async function waitAtMost(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

async function inBatches<T, R>(items: readonly T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let start = 0; start < items.length; start += size) results.push(...(await Promise.all(items.slice(start, start + size).map(work))));
  return results;
}
