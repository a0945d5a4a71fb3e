import { checkedAuditEntry, type AuditEntry, type AuditRecordInput } from '../client/audit';

/** Writes checked entries to the audit trail (client/audit.ts recordAuditBatch, bounded by the caller's deadline). */
export type WriteAuditBatch = (batch: readonly AuditEntry[]) => Promise<void>;

/** Entries waiting for a write at most; beyond it the oldest are given up and reported (a Temporal that never answers must not grow the process). */
const QUEUED_MAX = 20_000;
/** Entries per write: the workflow's batch limit. */
const PER_WRITE = 200;
/** Pauses before a failed write is tried again: a Temporal that is slow for a few seconds loses nothing. */
const RETRY_DELAYS_MS: readonly number[] = [1_000, 2_000, 4_000];

/**
 * The audit entries of accepted webhook deliveries, written after the answer in batches: at most one write is
 * in flight, and what arrives meanwhile goes in the next one. A burst of a thousand pushes costs a handful of
 * Temporal writes. Each entry keeps the time it happened, and is checked when added: the cost is spread over the
 * requests instead of held by one write of 200 (which kept every request of a burst waiting), and a malformed
 * entry is reported alone. A failed write is reported with what it carried; it does not undo the deliveries,
 * which already happened. A failed write is tried again a few times first (entries stay in order); as a write
 * that timed out may still have landed, an entry can then appear twice in the trail, never silently not at all.
 */
export class AuditBatches {
  private queued: AuditEntry[] = [];
  private writing: Promise<void> | undefined;

  constructor(
    private readonly write: WriteAuditBatch,
    private readonly reportLost: (entries: readonly (AuditEntry | AuditRecordInput)[], reason: string) => void,
    private readonly retryDelaysMs: readonly number[] = RETRY_DELAYS_MS,
  ) {}

  add(entry: AuditRecordInput, at = new Date()): void {
    try {
      this.queued.push(checkedAuditEntry(entry, at));
    } catch (error) {
      this.reportLost([entry], (error as Error).message);
      return;
    }
    if (this.queued.length > QUEUED_MAX) {
      const lost = this.queued.splice(0, this.queued.length - QUEUED_MAX);
      this.reportLost(lost, `more than ${QUEUED_MAX} audit entries waiting for Temporal`);
    }
    this.writing ??= this.drainQueue();
  }

  /** Resolves once every entry added so far was written or reported lost. */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drainQueue(): Promise<void> {
    try {
      while (this.queued.length > 0) {
        const batch = this.queued.splice(0, PER_WRITE);
        await this.writeWithRetries(batch);
      }
    } finally {
      this.writing = undefined;
    }
  }

  private async writeWithRetries(batch: readonly AuditEntry[]): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await this.write(batch);
        return;
      } catch (error) {
        const delay = this.retryDelaysMs[attempt];
        if (delay === undefined) {
          this.reportLost(batch, `${(error as Error).message} (after ${attempt + 1} attempts)`);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }
}
