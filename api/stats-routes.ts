import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
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

/** `GET /api/stats?dag=&since=`: run analytics per DAG from Temporal visibility (client/stats.ts). */
export function registerStatsRoutes(app: FastifyInstance, deps: { client: Client }): void {
  app.get('/api/stats', async (request, reply) => {
    const query = StatsQuery.safeParse(request.query ?? {});
    if (!query.success) return reply.code(400).send({ error: 'invalid query', problems: zodProblems(query.error, 'query') });
    const { dag, since } = query.data;
    return readRunStats(deps.client, { since, ...(dag !== undefined ? { dag } : {}) });
  });
}
