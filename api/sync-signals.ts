import type { SyncRequestArgs } from '../client/repos';

/** Sends one sync signal to a repository's workflow (client/repos.ts signalSync, bounded by its deadline). */
export type SendSyncSignal = (repo: string, args: SyncRequestArgs) => Promise<void>;

/**
 * Least time between the starts of two signals to one repository while pushes keep arriving. The repository
 * workflow syncs the newest commit whatever number of signals it got, so a burst needs about one signal per
 * sync; sending one per Temporal round trip instead cost a workflow task, a history event and worker time each.
 */
export const SYNC_SIGNAL_SPACING_MS = 1_000;

export interface SyncSignalsOptions {
  spacingMs?: number;
  nowMs?: () => number;
  /** Waits before a follow-up signal (tests hold it in their hand). */
  pause?: (ms: number) => Promise<void>;
}

interface Waiting {
  args: SyncRequestArgs;
  done: Promise<void>;
  settle: (error?: unknown) => void;
}

interface RepoState {
  /** A signal is in flight, or the follow-up is waiting out the spacing. */
  busy: boolean;
  inFlight?: Promise<void>;
  next?: Waiting;
  lastSentAtMs: number;
}

const sleep = (ms: number): Promise<void> => (ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms)));

/**
 * Coalesces the sync signals of a burst of pushes: per repository at most one signal is in flight, and every
 * push that arrives meanwhile shares the one signal sent after it, which leaves no sooner than the spacing after
 * the one before. A push is answered only once a signal sent after it arrived was taken by Temporal, so its commit
 * is always covered by a sync that starts later (an answered push is never lost), while a thousand pushes cost a
 * handful of Temporal writes instead of a thousand. The first push after a quiet spell is signalled at once.
 */
export class SyncSignals {
  private readonly repos = new Map<string, RepoState>();
  private sent = 0;
  private readonly spacingMs: number;
  private readonly now: () => number;
  private readonly pause: (ms: number) => Promise<void>;

  constructor(
    private readonly send: SendSyncSignal,
    options: SyncSignalsOptions = {},
  ) {
    this.spacingMs = options.spacingMs ?? SYNC_SIGNAL_SPACING_MS;
    this.now = options.nowMs ?? Date.now;
    this.pause = options.pause ?? sleep;
  }

  /** Resolves when a sync signal covering this request was taken; rejects with that signal's error. */
  request(repo: string, args: SyncRequestArgs): Promise<void> {
    const state = this.repos.get(repo) ?? { busy: false, lastSentAtMs: Number.NEGATIVE_INFINITY };
    this.repos.set(repo, state);
    if (!state.busy) return this.start(repo, state, args);
    if (state.next) {
      // The newest reason and delivery id travel; a commit only when every push sharing the signal named the same one
      // (the workflow skips a push of a commit already synced, and pushes may arrive out of order).
      const { commit, ...rest } = args;
      state.next.args = commit !== undefined && commit === state.next.args.commit ? args : rest;
      return state.next.done;
    }
    let settle!: (error?: unknown) => void;
    const done = new Promise<void>((resolve, reject) => {
      settle = (error) => (error === undefined ? resolve() : reject(error));
    });
    state.next = { args, done, settle };
    return done;
  }

  /** The signal on its way to this repository's workflow now, if any (sent before any request still waiting). */
  inFlight(repo: string): Promise<void> | undefined {
    return this.repos.get(repo)?.inFlight;
  }

  /** Signals sent so far (for tests and the bench: how many writes a burst cost). */
  get signalsSent(): number {
    return this.sent;
  }

  private start(repo: string, state: RepoState, args: SyncRequestArgs): Promise<void> {
    state.busy = true;
    state.lastSentAtMs = this.now();
    this.sent += 1;
    const inFlight = this.send(repo, args);
    state.inFlight = inFlight;
    const followUp = (): void => {
      state.inFlight = undefined;
      if (!state.next) {
        state.busy = false;
        this.repos.delete(repo);
        return;
      }
      // Requests arriving while the spacing runs out join the same follow-up.
      void this.pause(state.lastSentAtMs + this.spacingMs - this.now()).then(() => {
        const next = state.next;
        state.next = undefined;
        if (!next) {
          state.busy = false;
          this.repos.delete(repo);
          return;
        }
        this.start(repo, state, next.args).then(
          () => next.settle(),
          (error: unknown) => next.settle(error ?? new Error('sync signal failed')),
        );
      });
    };
    inFlight.then(followUp, followUp);
    return inFlight;
  }
}
