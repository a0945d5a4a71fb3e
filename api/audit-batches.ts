import { setTimeout as sleep } from 'node:timers/promises';
import { checkedAuditEntry, type AuditEntry, type AuditRecordInput } from '../client/audit';

/** Writes checked entries to the audit trail (client/audit.ts recordAuditBatch, bounded by the caller's deadline). */
export type WriteAuditBatch = (batch: readonly AuditEntry[]) => Promise<void>;

/**
 * Entries waiting for a write at most; beyond it the oldest are given up and reported (a Temporal that never
 * answers must not grow the process).
 */
const QUEUED_MAX = 20_000;
/** Entries per write: the workflow's batch limit. */
const PER_WRITE = 200;
/** Pauses before a failed write is tried again: a Temporal that is slow for a few seconds loses nothing. */
const RETRY_DELAYS_MS: readonly number[] = [1_000, 2_000, 4_000];
/**
 * Least time between the starts of two writes while entries keep coming (unless a full batch waits). Each write is
 * a signal, a workflow task and a history event; one per Temporal round trip cost a burst hundreds of them.
 */
export const AUDIT_WRITE_SPACING_MS = 500;

export interface AuditBatchesOptions {
  retryDelaysMs?: readonly number[];
  spacingMs?: number;
  /** Waits out the spacing (tests hold it in their hand). */
  pause?: (ms: number) => Promise<void>;
  nowMs?: () => number;
}

/**
 * The audit entries of accepted webhook deliveries, written after the answer in batches: at most one write is
 * in flight, and what arrives meanwhile goes in the next one. A burst of a thousand pushes costs a handful of
 * Temporal writes; a write leaves no sooner than the spacing after the one before, unless a full batch waits, and
 * the first entry after a quiet spell is written at once. Each entry keeps the time it happened, and is checked
 * when added: the cost is spread over the requests instead of held by one write of 200 (which kept every request
 * of a burst waiting), and a malformed entry is reported alone. A failed write is reported with what it carried; it does not undo the deliveries,
 * which already happened. A failed write is tried again a few times first (entries stay in order); as a write
 * that timed out may still have landed, an entry can then appear twice in the trail, never silently not at all.
 */
export class AuditBatches {
  private queued: AuditEntry[] = [];
  private writing: Promise<void> | undefined;
  private readonly retryDelaysMs: readonly number[];
  private readonly spacingMs: number;
  private readonly pause: (ms: number) => Promise<void>;
  private readonly now: () => number;

  constructor(
    private readonly write: WriteAuditBatch,
    private readonly reportLost: (entries: readonly (AuditEntry | AuditRecordInput)[], reason: string) => void,
    options: AuditBatchesOptions = {},
  ) {
    this.retryDelaysMs = options.retryDelaysMs ?? RETRY_DELAYS_MS;
    this.spacingMs = options.spacingMs ?? AUDIT_WRITE_SPACING_MS;
    this.pause = options.pause ?? ((ms) => sleep(ms));
    this.now = options.nowMs ?? Date.now;
  }

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
        const startedAtMs = this.now();
        const batch = this.queued.splice(0, PER_WRITE);
        await this.writeWithRetries(batch);
        const wait = startedAtMs + this.spacingMs - this.now();
        if (this.queued.length > 0 && this.queued.length < PER_WRITE && wait > 0) await this.pause(wait);
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
        await sleep(delay);
      }
    }
  }
}
