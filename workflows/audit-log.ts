import * as wf from '@temporalio/workflow';
import { AUDIT_BATCH_MAX_ENTRIES, checkedEntry, matchesAudit, utf8Bytes, type AuditEntry, type AuditFilter } from './audit-entry';
import { AUDIT_RETENTION_DAYS, HOUR_MS } from './audit-ids';
import { auditShardStart } from './workflow-ids';

/** At most this many entries per hour shard, and at most this many bytes of them (the continue-as-new input). */
export const AUDIT_SHARD_MAX_ENTRIES = 20_000;
export const AUDIT_SHARD_MAX_BYTES = 1_500_000;
/**
 * Entries of forge push deliveries (actor `webhook:<forge>`) may fill at most half of an hour, so a flood of
 * pushes never leaves the people, schedules and triggers of that hour unrecorded.
 */
export const AUDIT_SHARD_PUSH_SHARE = 0.5;
/** Continue as new after this many history events even when the server does not suggest it yet. */
const EVENTS_PER_RUN = 4_000;
const QUERY_LIMIT_MAX = 1_000;

export interface AuditLogInput {
  shard: string;
  /** Carried across continue-as-new, oldest first. */
  entries?: AuditEntry[];
  /** Entries not kept because the shard was full. */
  dropped?: number;
  /** Signals that were not valid entries (sent around the client, which checks first). */
  rejected?: number;
  /** When the shard closes (ISO); derived from the shard id when absent. */
  closeAt?: string;
  /** History events per run before continuing as new (default 4,000; tests use fewer). */
  eventsPerRun?: number;
}

export interface AuditShardView {
  shard: string;
  /** Matching entries, newest first, at most the filter's limit. */
  entries: AuditEntry[];
  /** How many entries match in all (may exceed entries.length). */
  matched: number;
  /** Entries held by the shard. */
  total: number;
  dropped: number;
  rejected: number;
}

/**
 * One entry, or a list of them (a burst of webhook deliveries: one history event instead of one each). A worker
 * from before lists were accepted counts a list as one rejected signal, so a mixed-version fleet shows the gap.
 */
export const recordAuditSignal = wf.defineSignal<[unknown]>('record');
export const auditEntriesQuery = wf.defineQuery<AuditShardView, [AuditFilter?]>('entries');

function closeTime(input: AuditLogInput): number {
  if (input.closeAt) return Date.parse(input.closeAt);
  const start = auditShardStart(input.shard)?.getTime() ?? Date.parse(wf.workflowInfo().startTime.toISOString());
  return start + HOUR_MS + AUDIT_RETENTION_DAYS * 24 * HOUR_MS;
}

/**
 * The audit entries of one UTC hour (id `audit/<YYYY-MM-DDTHH>`), received by signal-with-start so a
 * caller never waits on a workflow task. Stays open (open workflows outlive the namespace's
 * retention) until AUDIT_RETENTION_DAYS after its hour, then closes. When full, further entries are
 * counted as dropped and every query says so.
 */
export async function auditLog(input: AuditLogInput): Promise<{ shard: string; total: number; dropped: number; rejected: number }> {
  const entries = [...(input.entries ?? [])];
  const sizeOf = (entry: AuditEntry): number => utf8Bytes(JSON.stringify(entry)) + 1;
  const isPush = (entry: AuditEntry): boolean => entry.actor.startsWith('webhook:');
  let bytes = entries.reduce((sum, entry) => sum + sizeOf(entry), 0);
  let pushEntries = entries.filter(isPush).length;
  let pushBytes = entries.filter(isPush).reduce((sum, entry) => sum + sizeOf(entry), 0);
  let dropped = input.dropped ?? 0;
  let rejected = input.rejected ?? 0;
  const closeAt = closeTime(input);

  const record = (value: unknown): void => {
    const entry = checkedEntry(value);
    if (!entry) {
      rejected += 1;
      return;
    }
    const size = sizeOf(entry);
    const push = isPush(entry);
    const full = entries.length >= AUDIT_SHARD_MAX_ENTRIES || bytes + size > AUDIT_SHARD_MAX_BYTES;
    const pushShareFull = push && (pushEntries >= AUDIT_SHARD_MAX_ENTRIES * AUDIT_SHARD_PUSH_SHARE || pushBytes + size > AUDIT_SHARD_MAX_BYTES * AUDIT_SHARD_PUSH_SHARE);
    if (full || pushShareFull) {
      dropped += 1;
      return;
    }
    entries.push(entry);
    bytes += size;
    if (push) {
      pushEntries += 1;
      pushBytes += size;
    }
  };
  wf.setHandler(recordAuditSignal, (value) => {
    if (!Array.isArray(value)) return record(value);
    value.slice(0, AUDIT_BATCH_MAX_ENTRIES).forEach((item) => record(item));
    rejected += Math.max(0, value.length - AUDIT_BATCH_MAX_ENTRIES);
  });

  wf.setHandler(auditEntriesQuery, (filter = {}) => {
    const limit = Math.min(Math.max(1, Math.floor(filter.limit ?? 100)), QUERY_LIMIT_MAX);
    const matching = entries.filter((entry) => matchesAudit(entry, filter));
    // Newest first by the recorded time; arrival order breaks ties (signals may arrive out of order).
    const ordered = matching.map((entry, index) => ({ entry, index })).sort((a, b) => (a.entry.at === b.entry.at ? b.index - a.index : a.entry.at < b.entry.at ? 1 : -1));
    return { shard: input.shard, entries: ordered.slice(0, limit).map(({ entry }) => entry), matched: matching.length, total: entries.length, dropped, rejected };
  });

  const eventsPerRun = Math.max(10, input.eventsPerRun ?? EVENTS_PER_RUN);
  const tooLong = () => wf.workflowInfo().continueAsNewSuggested || wf.workflowInfo().historyLength > eventsPerRun;
  const remaining = closeAt - Date.now();
  const closing = remaining <= 0 || !(await wf.condition(tooLong, remaining));
  if (closing) return { shard: input.shard, total: entries.length, dropped, rejected };
  await wf.condition(wf.allHandlersFinished);
  return wf.continueAsNew<typeof auditLog>({ shard: input.shard, entries, dropped, rejected, closeAt: new Date(closeAt).toISOString(), ...(input.eventsPerRun !== undefined ? { eventsPerRun: input.eventsPerRun } : {}) });
}
