import type { IdentityState, TokenRecord, UserRecord } from '../client/identity';

/** The identity store could not be read and the last copy is too old to trust. */
export class IdentityUnavailableError extends Error {
  override readonly name = 'IdentityUnavailableError';
}

/** However often unknown tokens arrive, the store is read at most this often. */
const MIN_AGE_MS = 250;

export interface IdentityIndex {
  usersByName: Map<string, UserRecord>;
  tokensByHash: Map<string, TokenRecord>;
}

function index(state: IdentityState): IdentityIndex {
  return { usersByName: new Map(state.users.map((user) => [user.name, user])), tokensByHash: new Map(state.tokens.map((token) => [token.hash, token])) };
}

/**
 * The API's copy of the identity workflow's state, read again when older than `maxAgeMs` (one read
 * at a time, shared by concurrent requests), so a revoked token or a changed role takes effect on
 * every API node within seconds. When Temporal cannot be read, the last copy serves until it is
 * `staleLimitMs` old; after that personal tokens are refused rather than trusted blindly.
 */
export class IdentityCache {
  private current: { index: IdentityIndex; at: number } | undefined;
  /** The read in flight and when it started. */
  private pending: { startedAt: number; promise: Promise<IdentityIndex> } | undefined;
  /** The next read, queued behind the one in flight and the rate limit; every caller waiting for a newer copy shares it. */
  private queued: Promise<IdentityIndex> | undefined;
  private lastStartedAt = -Infinity;

  constructor(
    private readonly read: () => Promise<IdentityState>,
    private readonly maxAgeMs = 2000,
    private readonly staleLimitMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The identities as read at most `fresherThanMs` before this call (default `maxAgeMs`). Callers
   * pass 0 for a token not found, so a token issued a moment ago works at once: such a call waits
   * for a read that starts after it, and reads start at most every MIN_AGE_MS however many arrive.
   */
  async get(fresherThanMs = this.maxAgeMs): Promise<IdentityIndex> {
    const asked = this.now();
    const current = this.current;
    if (current && asked - current.at < fresherThanMs) return current.index;
    if (this.pending && this.pending.startedAt >= asked - fresherThanMs) return this.pending.promise;
    this.queued ??= this.readNext();
    return this.queued;
  }

  private async readNext(): Promise<IdentityIndex> {
    await this.pending?.promise.catch(() => undefined);
    const wait = this.lastStartedAt + MIN_AGE_MS - this.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const startedAt = this.now();
    this.lastStartedAt = startedAt;
    const promise = this.refresh(startedAt).finally(() => {
      if (this.pending?.promise === promise) this.pending = undefined;
    });
    this.pending = { startedAt, promise };
    this.queued = undefined;
    return promise;
  }

  private async refresh(startedAt: number): Promise<IdentityIndex> {
    try {
      const fresh = index(await this.read());
      this.current = { index: fresh, at: startedAt };
      return fresh;
    } catch (error) {
      const last = this.current;
      if (last && this.now() - last.at < this.staleLimitMs) return last.index;
      throw new IdentityUnavailableError(`the identity store cannot be read: ${(error as Error).message}`);
    }
  }
}
