import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { SyncRequestArgs } from '../client/repos';
import type { SyncSignals } from './sync-signals';

/** How long after a sync signal was taken Temporal counts as taking them: pushes meanwhile are answered from the disk note. */
const TAKING_SIGNALS_MS = 10_000;
/** Pause before a noted sync whose signal failed is tried again. */
const RETRY_MS = 5_000;
/** Longer note contents are not repository names. */
const MAX_NAME_LENGTH = 256;

interface RepoState {
  /** Pushes accepted for this repository; the note on disk is removed once a signal covers the newest. */
  accepted: number;
  covered: number;
  noted: boolean;
  retry?: NodeJS.Timeout;
}

export interface PendingSyncsOptions {
  /** Where the notes live (one small file per repository with a sync due). */
  directory: string;
  signals: SyncSignals;
  /** Told when a noted sync could not be handed over (it stays noted and is tried again). */
  onError?: (repo: string, error: unknown) => void;
  /** Told when a note names a repository Temporal no longer knows (the note is dropped). */
  isGone?: (error: unknown) => boolean;
  nowMs?: () => number;
}

/**
 * Sync requests accepted by this API process and not yet taken by Temporal, noted on disk. While Temporal is
 * taking signals (one was taken in the last few seconds), a push is answered 202 as soon as its repository's note
 * exists, and the signal follows in the background; otherwise the push waits for its signal, so a Temporal that is
 * down or slow still costs the sender a 503 and a redelivery. A process killed between the answer and the signal
 * finds the note at its next start and signals then: an answered push is never lost. One note per repository,
 * however many pushes (the repository workflow syncs the newest commit anyway).
 */
export class PendingSyncs {
  private readonly repos = new Map<string, RepoState>();
  private readonly now: () => number;
  private closed = false;
  /** When Temporal last took a sync signal, for any repository: it is one service, taking them or not. */
  private lastTakenAtMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: PendingSyncsOptions) {
    this.now = options.nowMs ?? Date.now;
    mkdirSync(options.directory, { recursive: true });
  }

  /**
   * Accepts a push: resolves once the sync is noted on disk (Temporal known to be taking signals) or taken by
   * Temporal; rejects with the signal's error when it had to wait for Temporal and Temporal did not take it.
   */
  async accept(repo: string, args: SyncRequestArgs): Promise<void> {
    const state = this.stateOf(repo);
    state.accepted += 1;
    const generation = state.accepted;
    if (this.takingSignals() && this.note(repo, state)) {
      void this.signal(repo, state, args, generation).catch((error: unknown) => this.failed(repo, state, error));
      return;
    }
    // Temporal has not shown it takes signals lately (or the note could not be written): the sender waits, and gets
    // a 503 when Temporal does not take them. A signal already on its way answers that as well as this push's own,
    // which goes out after it: the pushes of a burst's first moment wait for one signal, not two.
    const earlier = this.options.signals.inFlight(repo);
    const own = this.signal(repo, state, args, generation);
    own.catch(() => undefined);
    if (earlier === undefined) return own;
    const earlierTaken = await earlier.then(
      () => true,
      () => false,
    );
    if (!earlierTaken || !this.note(repo, state)) return own;
    void own.catch((error: unknown) => this.failed(repo, state, error));
  }

  /** Signals every repository noted by an earlier process (killed before its signals went out). */
  async resume(): Promise<number> {
    const noted = readdirSync(this.options.directory).filter((name) => name.endsWith('.sync-due'));
    for (const file of noted) {
      const full = path.join(this.options.directory, file);
      const repo = readFileSync(full, 'utf8');
      // A note under another name (made by hand, or damaged) is rewritten under its own, or dropped when it names nothing usable.
      if (full !== this.file(repo)) rmSync(full, { force: true });
      if (repo.length === 0 || repo.length > MAX_NAME_LENGTH || /[\n\r\0]/.test(repo)) continue;
      const state = this.stateOf(repo);
      state.accepted += 1;
      if (!this.note(repo, state)) continue;
      await this.signal(repo, state, { reason: 'push noted before a restart' }, state.accepted).catch((error: unknown) => this.failed(repo, state, error));
    }
    return noted.length;
  }

  /** Stops retrying; notes stay on disk for the next start. */
  close(): void {
    this.closed = true;
    for (const state of this.repos.values()) clearTimeout(state.retry);
  }

  private stateOf(repo: string): RepoState {
    let state = this.repos.get(repo);
    if (!state) {
      state = { accepted: 0, covered: 0, noted: false };
      this.repos.set(repo, state);
    }
    return state;
  }

  private file(repo: string): string {
    return path.join(this.options.directory, `${createHash('sha256').update(repo).digest('hex').slice(0, 32)}.sync-due`);
  }

  /** Synchronous on purpose: a note written and one removed never interleave. False when the disk refused it. */
  private note(repo: string, state: RepoState): boolean {
    if (state.noted) return true;
    try {
      writeFileSync(this.file(repo), repo);
    } catch {
      return false;
    }
    state.noted = true;
    return true;
  }

  private removeNote(repo: string, state: RepoState): void {
    rmSync(this.file(repo), { force: true });
    state.noted = false;
  }

  private takingSignals(): boolean {
    return this.now() - this.lastTakenAtMs <= TAKING_SIGNALS_MS;
  }

  private async signal(repo: string, state: RepoState, args: SyncRequestArgs, generation: number): Promise<void> {
    await this.options.signals.request(repo, args);
    this.lastTakenAtMs = this.now();
    state.covered = Math.max(state.covered, generation);
    if (state.noted && state.covered >= state.accepted) this.removeNote(repo, state);
  }

  private failed(repo: string, state: RepoState, error: unknown): void {
    if (this.options.isGone?.(error)) {
      if (state.noted) this.removeNote(repo, state);
      this.repos.delete(repo);
      return;
    }
    this.lastTakenAtMs = Number.NEGATIVE_INFINITY;
    this.options.onError?.(repo, error);
    if (this.closed || state.retry || !state.noted) return;
    state.retry = setTimeout(() => {
      state.retry = undefined;
      void this.signal(repo, state, { reason: 'retry of a noted push' }, state.accepted).catch((next: unknown) => this.failed(repo, state, next));
    }, RETRY_MS);
    state.retry.unref();
  }
}
