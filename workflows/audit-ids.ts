/**
 * Where audit entries live. One `auditLog` workflow per UTC hour: an hour's entries must fit one
 * continue-as-new input (Temporal refuses payloads over 2 MB by default), and a day of busy
 * webhooks would not. Every worker that runs workflows also polls AUDIT_TASK_QUEUE, so the log
 * does not depend on which deployment queue recorded it.
 */

export const AUDIT_TASK_QUEUE = 'qubinode-audit';
export const AUDIT_WORKFLOW_TYPE = 'auditLog';
const PREFIX = 'audit/';

/** How long an hour's log stays open (and so kept) after the hour ends. */
export const AUDIT_RETENTION_DAYS = 400;

/** `audit/2026-11-26T13`: the hour shard holding entries recorded at `at` (UTC). */
export function auditShardId(at: Date): string {
  return `${PREFIX}${at.toISOString().slice(0, 13)}`;
}

/** The start of a shard's hour, or undefined when the id is not a shard id. */
export function auditShardStart(workflowId: string): Date | undefined {
  const match = /^audit\/(\d{4}-\d{2}-\d{2}T\d{2})$/.exec(workflowId);
  if (!match) return undefined;
  const start = new Date(`${match[1]}:00:00.000Z`);
  return Number.isNaN(start.getTime()) ? undefined : start;
}

export const HOUR_MS = 3_600_000;
