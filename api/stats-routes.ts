import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { RunStats } from '../client/run-stats';
import { readRunStats } from '../client/stats';
import { BadStatsRequestError, checkedCatalogId, DEFAULT_STATS_WINDOW, windowStart } from '../client/stats-request';
import { zodProblems } from '../config/zod-problems';

/** Refines a query value with a check that throws BadStatsRequestError, keeping its message as the problem. */
function grammar(check: (value: string) => unknown) {
  return (value: string, context: z.RefinementCtx): void => {
    try {
      check(value);
    } catch (error) {
      if (!(error instanceof BadStatsRequestError)) throw error;
      context.addIssue({ code: 'custom', message: error.message });
    }
  };
}

const StatsQuery = z
  .object({
    dag: z.string().max(200).superRefine(grammar(checkedCatalogId)).optional(),
    since: z
      .string()
      .max(40)
      .superRefine(grammar((value) => windowStart(value)))
      .default(DEFAULT_STATS_WINDOW),
  })
  .strict();

// Listing a week of runs takes the dev server about a second per thousand: a page that refreshes, or
// several people looking at once, share one reading for a while instead of each listing them again.
const FRESH_MS = 30_000;
const MAX_READINGS = 64;

/** Answers per request for FRESH_MS, a request arriving while the same one is read waiting for that reading. */
function sharedReadings(read: (dag: string | undefined, since: string) => Promise<RunStats>) {
  const readings = new Map<string, { at: number; answer: Promise<RunStats> }>();
  return (dag: string | undefined, since: string): Promise<RunStats> => {
    const key = JSON.stringify([dag ?? null, since]);
    const now = Date.now();
    const kept = readings.get(key);
    if (kept && now - kept.at < FRESH_MS) return kept.answer;
    for (const [old, reading] of readings) if (now - reading.at >= FRESH_MS || readings.size >= MAX_READINGS) readings.delete(old);
    const answer = read(dag, since);
    readings.set(key, { at: now, answer });
    // A failed reading is not kept: the next request tries again.
    answer.catch(() => {
      if (readings.get(key)?.answer === answer) readings.delete(key);
    });
    return answer;
  };
}

/** `GET /api/stats?dag=&since=`: run analytics per DAG from Temporal visibility (client/stats.ts), at most 30 s old. */
export function registerStatsRoutes(app: FastifyInstance, deps: { client: Client }): void {
  const stats = sharedReadings((dag, since) => readRunStats(deps.client, { since, ...(dag !== undefined ? { dag } : {}) }));
  app.get('/api/stats', async (request, reply) => {
    const query = StatsQuery.safeParse(request.query ?? {});
    if (!query.success) return reply.code(400).send({ error: 'invalid query', problems: zodProblems(query.error, 'query') });
    return stats(query.data.dag, query.data.since);
  });
}
