import type { Client } from '@temporalio/client';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { formatLogCursor, parseLogCursor } from '../client/log-cursor';
import { InvalidTaskLogRequestError, readRunLogs, RunNotFoundError, UnknownLogTaskError } from '../client/logs';
import { TASK_LOG_MAX_BYTES } from '../config/task-log-request';
import { zodProblems } from '../config/zod-problems';

const LogsQuery = z
  .object({
    task: z.string().max(63).optional(),
    /** Start of every file not named in `from`. */
    offset: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    /** `name:offset,...`: the `cursor` of an earlier answer. */
    from: z.string().max(16_000).optional(),
    maxBytes: z.coerce.number().int().min(1).max(TASK_LOG_MAX_BYTES).optional(),
  })
  .strict();

/**
 * `GET /api/runs/<run id>/logs?task=&offset=&from=&maxBytes=`: new log text of a run's tasks, read on
 * the worker of each host they ran on. Answers with the files' text, `cursor` (pass it back as `from`
 * to continue), `more` (the byte budget ran out) and the run's `state`; 503 when no host that holds
 * the logs has a worker polling.
 */
export async function sendRunLogs(client: Client, runId: string, rawQuery: unknown, reply: FastifyReply): Promise<FastifyReply> {
  const query = LogsQuery.safeParse(rawQuery ?? {});
  if (!query.success) return reply.code(400).send({ error: 'invalid query', problems: zodProblems(query.error, 'query') });
  const { task, offset, from, maxBytes } = query.data;
  try {
    const logs = await readRunLogs(client, {
      runId,
      ...(task !== undefined ? { taskId: task } : {}),
      ...(offset !== undefined ? { offset } : {}),
      ...(from !== undefined ? { from: parseLogCursor(from) } : {}),
      ...(maxBytes !== undefined ? { maxBytes } : {}),
    });
    if (logs.matched === 0 && logs.unavailable.length > 0) return reply.code(503).send({ error: logs.unavailable.map((entry) => entry.message).join('; '), unavailable: logs.unavailable });
    return reply.send({ ...logs, cursor: formatLogCursor(logs.next) });
  } catch (error) {
    if (error instanceof InvalidTaskLogRequestError) return reply.code(400).send({ error: error.message });
    if (error instanceof RunNotFoundError || error instanceof UnknownLogTaskError) return reply.code(404).send({ error: error.message });
    throw error;
  }
}
