import type { Client } from '@temporalio/client';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { abortRun, ApprovalRefusedError, decideApproval, retryRun, rollbackRun, rolloutProgress } from '../client/run-control';
import { listRuns, RunAlreadyExistsError, RunNotFoundError } from '../client/runs';
import type { AuditTrail } from './audit-trail';
import { callerOf, wildcardParam, type Caller } from './caller';
import { zodProblem } from '../config/zod-problems';
import { rolloutIdFromPath } from '../client/run-ids';

/**
 * HTTP side of approvals, abort, retry and rollback (docs/rollouts-and-approvals.md). Run ids hold
 * slashes, so they travel in the body, not the path. The actor is always the authenticated caller;
 * only an admin may act on behalf of someone else (`onBehalfOf`), and that is recorded as such.
 */

const OnBehalfOf = z.string().min(1).max(64).optional();
const Decision = z.strictObject({
  run: z.string().min(1).max(400),
  task: z.string().min(1).max(200),
  decision: z.enum(['approve', 'reject']),
  comment: z.string().max(2000).optional(),
  onBehalfOf: OnBehalfOf,
});
const Abort = z.strictObject({ run: z.string().min(1).max(400), reason: z.string().max(2000).optional(), onBehalfOf: OnBehalfOf });
const Retry = z.strictObject({ run: z.string().min(1).max(400), from: z.string().min(1).max(200).optional() });
const Rollback = z.strictObject({ run: z.string().min(1).max(400), onBehalfOf: OnBehalfOf });

function problems(error: z.ZodError): string[] {
  return error.issues.map((issue) => (issue.code === 'unrecognized_keys' && issue.keys.includes('by') ? 'by: not accepted; the authenticated caller is the actor (admins may give onBehalfOf)' : zodProblem(issue, 'body')));
}

/** The workflow may name who else could have decided; a refused caller is not told. */
function withoutApprovers(message: string): string {
  return message.replace(/[;,.]?\s*approvers?:.*$/is, '');
}

function sendError(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof RunNotFoundError) return reply.code(404).send({ error: error.message });
  if (error instanceof ApprovalRefusedError) return reply.code(403).send({ error: withoutApprovers(error.message) });
  if (error instanceof RunAlreadyExistsError) return reply.code(409).send({ error: error.message });
  throw error;
}

function outcomeOf(error: unknown): 'refused' | 'failed' {
  return error instanceof RunNotFoundError || error instanceof ApprovalRefusedError || error instanceof RunAlreadyExistsError ? 'refused' : 'failed';
}

/** `onBehalfOf` is for admins only; undefined when the caller acts for themselves. */
function actingFor(caller: Caller, onBehalfOf: string | undefined, reply: FastifyReply): { ok: true; onBehalfOf?: string } | { ok: false } {
  if (onBehalfOf === undefined || onBehalfOf === caller.user) return { ok: true };
  if (!caller.roles.includes('admin')) {
    void reply.code(403).send({ error: 'only an admin may act on behalf of another user' });
    return { ok: false };
  }
  return { ok: true, onBehalfOf };
}

export function registerRunControlRoutes(app: FastifyInstance, deps: { client: Client; audit: AuditTrail }): void {
  const { audit } = deps;
  const refuseDelegation = (request: FastifyRequest, action: string, target: string, onBehalfOf: string) =>
    audit.write(request, { action, target, outcome: 'refused', onBehalfOf, detail: 'onBehalfOf needs the admin role' });

  app.get('/api/approvals', async () => listRuns(deps.client, { status: 'waiting', limit: 200 }));

  app.post('/api/approvals', async (request, reply) => {
    const body = Decision.safeParse(request.body ?? {});
    if (!body.success) return reply.code(400).send({ error: 'invalid request body', problems: problems(body.error) });
    const { run, task, decision, comment } = body.data;
    const caller = callerOf(request);
    const acting = actingFor(caller, body.data.onBehalfOf, reply);
    const target = `${run}#${task}`;
    if (!acting.ok) return refuseDelegation(request, 'approval.decide', target, body.data.onBehalfOf as string).then(() => reply);
    const delegated = acting.onBehalfOf ? { onBehalfOf: acting.onBehalfOf } : {};
    try {
      const record = await decideApproval(deps.client, run, { taskId: task, approve: decision === 'approve', by: caller.user, ...delegated, ...(comment ? { comment } : {}) });
      await audit.write(request, { action: decision === 'approve' ? 'approval.approve' : 'approval.reject', target, outcome: 'ok', ...delegated, ...(comment ? { detail: comment } : {}) });
      return record;
    } catch (error) {
      await audit.write(request, { action: decision === 'approve' ? 'approval.approve' : 'approval.reject', target, outcome: outcomeOf(error), ...delegated, detail: withoutApprovers((error as Error).message) });
      return sendError(reply, error);
    }
  });

  app.post('/api/aborts', async (request, reply) => {
    const body = Abort.safeParse(request.body ?? {});
    if (!body.success) return reply.code(400).send({ error: 'invalid request body', problems: problems(body.error) });
    const caller = callerOf(request);
    const acting = actingFor(caller, body.data.onBehalfOf, reply);
    if (!acting.ok) return refuseDelegation(request, 'run.abort', body.data.run, body.data.onBehalfOf as string).then(() => reply);
    const delegated = acting.onBehalfOf ? { onBehalfOf: acting.onBehalfOf } : {};
    try {
      const runId = await abortRun(deps.client, body.data.run, { by: caller.user, ...delegated, ...(body.data.reason ? { reason: body.data.reason } : {}) });
      await audit.write(request, { action: 'run.abort', target: runId, outcome: 'ok', ...delegated, ...(body.data.reason ? { detail: body.data.reason } : {}) });
      return reply.code(202).send({ runId, status: 'aborting' });
    } catch (error) {
      await audit.write(request, { action: 'run.abort', target: body.data.run, outcome: outcomeOf(error), ...delegated, detail: (error as Error).message });
      return sendError(reply, error);
    }
  });

  app.post('/api/retries', async (request, reply) => {
    const body = Retry.safeParse(request.body ?? {});
    if (!body.success) return reply.code(400).send({ error: 'invalid request body', problems: problems(body.error) });
    const caller = callerOf(request);
    try {
      const started = await retryRun(deps.client, body.data.run, { ...(body.data.from ? { from: body.data.from } : {}), startedBy: caller.user });
      await audit.write(request, { action: 'run.retry', target: body.data.run, outcome: 'ok', detail: `new run ${started.runId}` });
      return reply.code(201).send({ runId: started.runId, retryOf: body.data.run, reused: started.reused });
    } catch (error) {
      await audit.write(request, { action: 'run.retry', target: body.data.run, outcome: outcomeOf(error), detail: (error as Error).message });
      return sendError(reply, error);
    }
  });

  app.post('/api/rollbacks', async (request, reply) => {
    const body = Rollback.safeParse(request.body ?? {});
    if (!body.success) return reply.code(400).send({ error: 'invalid request body', problems: problems(body.error) });
    const caller = callerOf(request);
    const acting = actingFor(caller, body.data.onBehalfOf, reply);
    if (!acting.ok) return refuseDelegation(request, 'run.rollback', body.data.run, body.data.onBehalfOf as string).then(() => reply);
    const delegated = acting.onBehalfOf ? { onBehalfOf: acting.onBehalfOf } : {};
    try {
      const record = await rollbackRun(deps.client, body.data.run, { by: caller.user, ...delegated });
      await audit.write(request, { action: 'run.rollback', target: body.data.run, outcome: 'ok', ...delegated, detail: `rollback ${record.state}` });
      return record;
    } catch (error) {
      await audit.write(request, { action: 'run.rollback', target: body.data.run, outcome: outcomeOf(error), ...delegated, detail: (error as Error).message });
      return sendError(reply, error);
    }
  });

  // Rollout ids hold slashes (rollout/<dag>/<key>.<task>): GET /api/rollouts/<rest of the id>, raw or percent-encoded.
  app.get('/api/rollouts/*', async (request, reply) => {
    const rolloutId = rolloutIdFromPath(wildcardParam(request));
    try {
      return await rolloutProgress(deps.client, rolloutId);
    } catch (error) {
      if ((error as { name?: string }).name === 'WorkflowNotFoundError') return reply.code(404).send({ error: `no rollout ${rolloutId}` });
      throw error;
    }
  });
}
