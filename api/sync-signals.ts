import type { SyncRequestArgs } from '../client/repos';

/** Sends one sync signal to a repository's workflow (client/repos.ts signalSync, bounded by its deadline). */
export type SendSyncSignal = (repo: string, args: SyncRequestArgs) => Promise<void>;

interface Waiting {
  args: SyncRequestArgs;
  done: Promise<void>;
  settle: (error?: unknown) => void;
}

interface RepoState {
  inFlight?: Promise<void>;
  next?: Waiting;
}

/**
 * Coalesces the sync signals of a burst of pushes: per repository at most one signal is in flight, and every
 * push that arrives meanwhile shares the one signal sent after it. A push is answered only once a signal sent
 * after it arrived was taken by Temporal, so its commit is always covered by a sync that starts later (an
 * answered push is never lost), while a thousand pushes cost a handful of Temporal writes instead of a thousand.
 */
export class SyncSignals {
  private readonly repos = new Map<string, RepoState>();
  private sent = 0;

  constructor(private readonly send: SendSyncSignal) {}

  /** Resolves when a sync signal covering this request was taken; rejects with that signal's error. */
  request(repo: string, args: SyncRequestArgs): Promise<void> {
    const state = this.repos.get(repo) ?? {};
    this.repos.set(repo, state);
    if (!state.inFlight) return this.start(repo, state, args);
    if (state.next) {
      // The newest reason and delivery id travel; the workflow needs only to know that a sync is due.
      state.next.args = args;
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
    this.sent += 1;
    const inFlight = this.send(repo, args);
    state.inFlight = inFlight;
    const followUp = (): void => {
      state.inFlight = undefined;
      const next = state.next;
      state.next = undefined;
      if (!next) {
        this.repos.delete(repo);
        return;
      }
      this.start(repo, state, next.args).then(
        () => next.settle(),
        (error: unknown) => next.settle(error ?? new Error('sync signal failed')),
      );
    };
    inFlight.then(followUp, followUp);
    return inFlight;
  }
}
