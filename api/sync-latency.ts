import type { RepoView } from '../dag-repos/schema/sync-types';

/** How a watched push ended: its commit went live, was rejected, its sync failed, or it was not measured. */
export type SyncWatchOutcome = 'live' | 'rejected' | 'failed' | 'superseded' | 'timeout' | 'not_watched';

export interface SyncLatencyOptions {
  /** The repository's `catalog` query (client/repos.ts getRepo). */
  readRepo: (repo: string) => Promise<RepoView>;
  /** Told once per push: the outcome and, for `live`, `rejected` and `failed`, seconds from receipt to that outcome. */
  report: (outcome: SyncWatchOutcome, seconds?: number) => void;
  pollMs?: number;
  maxWaitMs?: number;
  /** At most this many pushes watched at once (one per repository); more are reported `not_watched`. */
  maxWatches?: number;
}

interface Watch {
  repo: string;
  commit: string;
  receivedAtMs: number;
}

const DEFAULTS = { pollMs: 500, maxWaitMs: 10 * 60_000, maxWatches: 32 };

/** `at` (another host's clock) held within what this process saw, so skew cannot make a latency up. */
function secondsBetween(receivedAtMs: number, at: string | undefined, observedAtMs: number): number {
  const stamped = at ? Date.parse(at) : Number.NaN;
  const end = Number.isFinite(stamped) ? Math.min(Math.max(stamped, receivedAtMs), observedAtMs) : observedAtMs;
  return (end - receivedAtMs) / 1000;
}

/**
 * Measures push received → commit live: after an accepted push the API reads the repository's
 * state until its active commit is the pushed one (or the sync after the push ended otherwise).
 * Only authenticated pushes are watched, one per repository (a newer push replaces the older
 * watch), and never more than `maxWatches`, so deliveries cannot make the API poll without bound.
 */
export class SyncLatency {
  private readonly watches = new Map<string, Watch>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private readonly settings: typeof DEFAULTS;

  constructor(private readonly options: SyncLatencyOptions) {
    this.settings = { pollMs: options.pollMs ?? DEFAULTS.pollMs, maxWaitMs: options.maxWaitMs ?? DEFAULTS.maxWaitMs, maxWatches: options.maxWatches ?? DEFAULTS.maxWatches };
  }

  /** Starts watching a push the repository accepted; `receivedAtMs` is when its request arrived. */
  watch(repo: string, commit: string, receivedAtMs: number): void {
    if (this.watches.has(repo)) this.options.report('superseded');
    else if (this.watches.size >= this.settings.maxWatches) return this.options.report('not_watched');
    this.watches.set(repo, { repo, commit, receivedAtMs });
    this.timer ??= setInterval(() => void this.poll(), this.settings.pollMs).unref();
  }

  /** Stops polling and waits for a poll in flight; pushes still watched are not reported. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.watches.clear();
    await this.polling;
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = this.pollOnce();
    await this.polling;
  }

  private async pollOnce(): Promise<void> {
    try {
      await Promise.all([...this.watches.values()].map((watch) => this.check(watch)));
    } finally {
      this.polling = undefined;
      if (this.watches.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    }
  }

  private async check(watch: Watch): Promise<void> {
    const now = Date.now();
    const view = await this.options.readRepo(watch.repo).catch(() => undefined);
    // A newer push may have replaced this watch while the query was out.
    if (this.watches.get(watch.repo) !== watch) return;
    const observedAtMs = Date.now();
    if (view?.active?.commit === watch.commit) return this.finish(watch, 'live', secondsBetween(watch.receivedAtMs, view.active.syncedAt, observedAtMs));
    if (view && !view.pending && !view.syncing && view.lastSync) {
      // The sync after the push has ended without making its commit live.
      if (view.lastSync.reason === 'error') return this.finish(watch, 'failed', secondsBetween(watch.receivedAtMs, undefined, observedAtMs));
      if (view.lastSync.commit === watch.commit && view.lastSync.state === 'rejected') return this.finish(watch, 'rejected', secondsBetween(watch.receivedAtMs, view.lastSync.at, observedAtMs));
      return this.finish(watch, 'superseded');
    }
    if (now - watch.receivedAtMs > this.settings.maxWaitMs) this.finish(watch, 'timeout');
  }

  private finish(watch: Watch, outcome: SyncWatchOutcome, seconds?: number): void {
    this.watches.delete(watch.repo);
    this.options.report(outcome, seconds);
  }
}
