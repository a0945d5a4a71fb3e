import type { Client } from '@temporalio/client';
import { AUDIT_BATCH_MAX_ENTRIES, auditEntry, AuditEntryError, type AuditEntry, type AuditFilter, type AuditOutcome } from '../workflows/audit-entry';
import { AUDIT_TASK_QUEUE, AUDIT_WORKFLOW_TYPE, HOUR_MS } from '../workflows/audit-ids';
import { auditShardId, auditShardStart } from '../workflows/workflow-ids';
import type { AuditLogInput, AuditShardView } from '../workflows/audit-log';

/**
 * The audit trail (docs/security.md, "Audit trail"): every state change a person causes, recorded in
 * Temporal so every node sees it and it survives restarts. Entries go to the `audit/<hour>` workflow
 * by signal-with-start; reading asks each hour's workflow by query, newest first.
 */

export { AuditEntryError, type AuditEntry, type AuditOutcome };

export interface AuditRecordInput {
  actor: string;
  via: string;
  action: string;
  target: string;
  outcome: 'ok' | 'refused' | 'failed';
  from?: string;
  onBehalfOf?: string;
  detail?: string;
}

export interface AuditListFilter {
  since?: Date;
  user?: string;
  action?: string;
  limit?: number;
}

/** Without `since`, how far back listing looks. */
const DEFAULT_LOOKBACK_MS = 31 * 24 * HOUR_MS;
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
/** Hour shards asked at once. */
const PARALLEL_QUERIES = 4;

/**
 * Records one entry, stamped with this caller's clock (which also picks the hour shard). Free text
 * (target, from, detail) is made one-line and bounded; a malformed name, action or outcome is
 * refused with AuditEntryError. Returns once Temporal has stored the signal.
 */
export async function recordAudit(client: Client, entry: AuditRecordInput): Promise<void> {
  const at = new Date();
  await signalShard(client, auditShardId(at), auditEntry(entry, at));
}

/** An entry checked and stamped now, ready for recordAuditBatch; a malformed one is refused with AuditEntryError. */
export function checkedAuditEntry(entry: AuditRecordInput, at: Date = new Date()): AuditEntry {
  return auditEntry(entry, at);
}

/**
 * Records checked entries (checkedAuditEntry) with one signal per hour shard of their times (at most
 * AUDIT_BATCH_MAX_ENTRIES each): a burst of webhook deliveries costs a few Temporal writes, not one each.
 */
export async function recordAuditBatch(client: Client, entries: readonly AuditEntry[]): Promise<void> {
  const byShard = new Map<string, AuditEntry[]>();
  for (const entry of entries) {
    const shard = auditShardId(new Date(entry.at));
    const list = byShard.get(shard);
    if (list) list.push(entry);
    else byShard.set(shard, [entry]);
  }
  for (const [shard, list] of byShard) {
    for (let start = 0; start < list.length; start += AUDIT_BATCH_MAX_ENTRIES) {
      await signalShard(client, shard, list.slice(start, start + AUDIT_BATCH_MAX_ENTRIES));
    }
  }
}

async function signalShard(client: Client, shard: string, value: AuditEntry | AuditEntry[]): Promise<void> {
  const input: AuditLogInput = { shard };
  await client.workflow.signalWithStart(AUDIT_WORKFLOW_TYPE, {
    workflowId: shard,
    taskQueue: AUDIT_TASK_QUEUE,
    args: [input],
    signal: 'record',
    signalArgs: [value],
    staticSummary: `audit log ${shard.slice('audit/'.length)}:00 UTC`,
  });
}

/** Ids of the hour shards that may hold entries at or after `since`, newest first. */
async function shardIds(client: Client, since: Date, now: Date): Promise<string[]> {
  const ids = new Set<string>();
  // The current and previous hour directly: visibility lags a freshly started shard by a moment.
  for (const offset of [0, 1]) {
    const hour = new Date(now.getTime() - offset * HOUR_MS);
    if (hour.getTime() + HOUR_MS > since.getTime()) ids.add(auditShardId(hour));
  }
  const query = `WorkflowType = '${AUDIT_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`;
  for await (const execution of client.workflow.list({ query, pageSize: 1000 })) {
    const start = auditShardStart(execution.workflowId);
    if (start && start.getTime() + HOUR_MS > since.getTime()) ids.add(execution.workflowId);
  }
  return [...ids].sort().reverse();
}

const QUERY_ATTEMPTS = 6;

/** Reading the log needs a worker on its queue; none is polling. */
export class AuditUnavailableError extends Error {
  override readonly name = 'AuditUnavailableError';
}

/**
 * Asks one hour's log. A query fails while the workflow's last task is being retried (a worker
 * that held it in its cache stopped, or the machine is slow); that passes, so it is asked again.
 */
async function queryShard(client: Client, shard: string, filter: AuditFilter): Promise<AuditShardView | undefined> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await client.workflow.getHandle(shard).query<AuditShardView, [AuditFilter]>('entries', filter);
    } catch (error) {
      if ((error as { name?: string }).name === 'WorkflowNotFoundError') return undefined;
      const message = `${(error as Error).message} ${String((error as { cause?: Error }).cause?.message ?? '')}`;
      // A log terminated before it ever ran (visibility may still list it as running) holds nothing.
      if (/closed before WorkflowTaskStarted/i.test(message)) return undefined;
      if (/no poller seen/i.test(message)) throw new AuditUnavailableError(`cannot read the audit log ${shard}: no worker serves its queue "${AUDIT_TASK_QUEUE}" (start one with \`qubinode up\` or \`qubinode worker\`); entries recorded meanwhile are kept`);
      const transient = /Workflow Task in failed state|DEADLINE_EXCEEDED|UNAVAILABLE/i.test(message);
      if (!transient || attempt >= QUERY_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** (attempt - 1)));
    }
  }
}

/** What listAudit returns besides the entries: shards that lost entries because they were full. */
export interface AuditListing {
  entries: AuditEntry[];
  /** Hour shards (ids) that refused entries because they were full, and how many. */
  dropped: { shard: string; count: number }[];
}

/** Entries newest first, with a note of full shards (see listAudit). */
export async function listAuditWithNotes(client: Client, filter: AuditListFilter): Promise<AuditListing> {
  const now = new Date();
  const since = filter.since ?? new Date(now.getTime() - DEFAULT_LOOKBACK_MS);
  const limit = Math.min(Math.max(1, Math.floor(filter.limit ?? DEFAULT_LIMIT)), MAX_LIMIT);
  const query: AuditFilter = { since: since.toISOString(), limit, ...(filter.user ? { user: filter.user } : {}), ...(filter.action ? { action: filter.action } : {}) };
  const shards = await shardIds(client, since, now);
  const entries: AuditEntry[] = [];
  const dropped: AuditListing['dropped'] = [];
  // Shards are hours, newest first, and entries are filed by their own time: once a batch of
  // shards fills the limit, older shards cannot hold anything newer.
  for (let index = 0; index < shards.length && entries.length < limit; index += PARALLEL_QUERIES) {
    const views = await Promise.all(shards.slice(index, index + PARALLEL_QUERIES).map((shard) => queryShard(client, shard, query)));
    for (const view of views) {
      if (!view) continue;
      entries.push(...view.entries);
      if (view.dropped > 0) dropped.push({ shard: view.shard, count: view.dropped });
    }
  }
  entries.sort((a, b) => (a.at === b.at ? 0 : a.at < b.at ? 1 : -1));
  return { entries: entries.slice(0, limit), dropped };
}

/** Audit entries newest first; `since` (default: 31 days back) spans as many hour shards as needed. */
export async function listAudit(client: Client, filter: AuditListFilter): Promise<AuditEntry[]> {
  return (await listAuditWithNotes(client, filter)).entries;
}
