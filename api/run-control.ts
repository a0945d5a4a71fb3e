import type { Client } from '@temporalio/client';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { abortRun, ApprovalRefusedError, decideApproval, retryRun, rollbackRun, rolloutProgress } from '../client/run-control';
import { listRuns, RunAlreadyExistsError, RunNotFoundError } from '../client/runs';

/**
 * HTTP side of approvals, abort, retry and rollback (docs/rollouts-and-approvals.md). Run ids hold
 * slashes, so they travel in the body, not the path. The bearer token guards these like all of /api;
 * the token says nothing about who is calling, so approvals name their approver in `by`.
 */

const Decision = z.strictObject({
  run: z.string().min(1),
  task: z.string().min(1),
  decision: z.enum(['approve', 'reject']),
  by: z.string().min(1),
  comment: z.string().max(2000).optional(),
});
const Abort = z.strictObject({ run: z.string().min(1), by: z.string().min(1), reason: z.string().max(2000).optional() });
const Retry = z.strictObject({ run: z.string().min(1), from: z.string().min(1).optional() });
const Rollback = z.strictObject({ run: z.string().min(1), by: z.string().min(1) });

function problems(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
}

function sendError(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof RunNotFoundError) return reply.code(404).send({ error: error.message });
  if (error instanceof ApprovalRefusedError) return reply.code(403).send({ error: error.message });
  if (error instanceof RunAlreadyExistsError) return reply.code(409).send({ error: error.message });
  throw error;
}

export function registerRunControlRoutes(app: FastifyInstance, deps: { client: Client }): void {
  app.get('/api/approvals', async () => listRuns(deps.client, { status: 'waiting', limit: 200 }));

  app.post('/api/approvals', async (request, reply) => {
    const body = Decision.safeParse(request.body ?? {});
    if (!body.success) return reply.code(400).send({ error: 'invalid request body', problems: problems(body.error) });
    const { run, task, decision, by, comment } = body.data;
    try {
      return await decideApproval(deps.client, run, { taskId: task, approve: decision === 'approve', by, ...(comment ? { comment } : {}) });
    } catch (error) {
      return sendError(reply, error);
    }
  });

  app.post('/api/aborts', async (request, reply) => {
    const body = Abort.safeParse(request.body ?? {});
    if (!body.success) return reply.code(400).send({ error: 'invalid request body', problems: problems(body.error) });
    try {
      const runId = await abortRun(deps.client, body.data.run, { by: body.data.by, ...(body.data.reason ? { reason: body.data.reason } : {}) });
      return reply.code(202).send({ runId, status: 'aborting' });
    } catch (error) {
      return sendError(reply, error);
    }
  });

  app.post('/api/retries', async (request, reply) => {
    const body = Retry.safeParse(request.body ?? {});
    if (!body.success) return reply.code(400).send({ error: 'invalid request body', problems: problems(body.error) });
    try {
      const started = await retryRun(deps.client, body.data.run, body.data.from ? { from: body.data.from } : {});
      return reply.code(201).send({ runId: started.runId, retryOf: body.data.run, reused: started.reused });
    } catch (error) {
      return sendError(reply, error);
    }
  });

  app.post('/api/rollbacks', async (request, reply) => {
    const body = Rollback.safeParse(request.body ?? {});
    if (!body.success) return reply.code(400).send({ error: 'invalid request body', problems: problems(body.error) });
    try {
      return await rollbackRun(deps.client, body.data.run, body.data.by);
    } catch (error) {
      return sendError(reply, error);
    }
  });

  // Rollout ids hold slashes (rollout/<dag>/<key>.<task>): GET /api/rollouts/<rest of the id>, raw or percent-encoded.
  app.get('/api/rollouts/*', async (request, reply) => {
    const rolloutId = `rollout/${decodeURIComponent((request.params as { '*': string })['*'])}`;
    try {
      return await rolloutProgress(deps.client, rolloutId);
    } catch (error) {
      if ((error as { name?: string }).name === 'WorkflowNotFoundError') return reply.code(404).send({ error: `no rollout ${rolloutId}` });
      throw error;
    }
  });
}
