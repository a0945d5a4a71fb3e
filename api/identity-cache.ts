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
  private pending: Promise<IdentityIndex> | undefined;

  constructor(
    private readonly read: () => Promise<IdentityState>,
    private readonly maxAgeMs = 2000,
    private readonly staleLimitMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The identities, read again when the copy is older than `maxAgeMs` (or than `fresherThanMs`,
   * which callers use for a token not found, so a token issued a moment ago works at once).
   */
  async get(fresherThanMs = this.maxAgeMs): Promise<IdentityIndex> {
    const current = this.current;
    if (current && this.now() - current.at < Math.max(fresherThanMs, MIN_AGE_MS)) return current.index;
    this.pending ??= this.refresh().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async refresh(): Promise<IdentityIndex> {
    const started = this.now();
    try {
      const fresh = index(await this.read());
      this.current = { index: fresh, at: started };
      return fresh;
    } catch (error) {
      const last = this.current;
      if (last && this.now() - last.at < this.staleLimitMs) return last.index;
      throw new IdentityUnavailableError(`the identity store cannot be read: ${(error as Error).message}`);
    }
  }
}
