import type { Client } from '@temporalio/client';
import type { FastifyBaseLogger, FastifyRequest } from 'fastify';
import type { AuditRecordInput as AuditInput } from '../client/audit';
import type { Caller } from './caller';

export type AuditRecorder = (client: Client, entry: AuditInput) => Promise<void>;

/** Audit action names of the state-changing routes, keyed like ROUTE_POLICY. */
export const AUDIT_ACTIONS: Readonly<Record<string, string>> = {
  'POST /api/runs': 'run.start',
  'POST /api/runs/*': 'run.cancel',
  'POST /api/approvals': 'approval.decide',
  'POST /api/aborts': 'run.abort',
  'POST /api/retries': 'run.retry',
  'POST /api/rollbacks': 'run.rollback',
  'POST /api/repos/:name/sync': 'repo.sync',
  'POST /api/users': 'user.add',
  'PATCH /api/users/:name': 'user.change',
  'DELETE /api/users/:name': 'user.remove',
  'POST /api/tokens': 'token.issue',
  'DELETE /api/tokens/:id': 'token.revoke',
  'PUT /api/policies/:repo': 'policy.set',
  'DELETE /api/policies/:repo': 'policy.remove',
  'POST /api/policy-exceptions': 'policy.approve-exception',
  'POST /api/policy-versions': 'policy.approve-version',
};

/**
 * Records what a caller did. An audit write that fails is logged loudly but does not undo or
 * fail the action it describes: the action already happened in Temporal.
 */
export class AuditTrail {
  constructor(
    private readonly client: Client,
    private readonly record: AuditRecorder,
    private readonly logger: FastifyBaseLogger,
  ) {}

  async write(request: FastifyRequest, entry: { action: string; target: string; outcome: AuditInput['outcome']; onBehalfOf?: string; detail?: string }, caller: Caller | undefined = request.caller): Promise<void> {
    const input: AuditInput = { actor: caller?.user ?? 'anonymous', via: caller?.via ?? 'none', from: request.ip, ...entry, ...(entry.detail ? { detail: entry.detail.slice(0, 500) } : {}) };
    await this.record(this.client, input).catch((error: Error) => this.logger.error({ reqId: request.id, audit: input, err: error.message }, 'audit entry not recorded'));
  }
}
