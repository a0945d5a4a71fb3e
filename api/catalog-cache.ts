import type { LoadedCatalog } from '../client/catalog';
import type { DagCatalog } from '../dag-repos/catalog/composite-catalog';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import type { RepoConfig } from '../dag-repos/schema/repo-config';

/** One loaded catalog with the settings of every registered repository, by name. */
export interface CatalogSnapshot {
  catalog: DagCatalog;
  /** Valid DAGs by exact catalog id (`<repo>/<dag>`): what the trigger receiver looks up. */
  dags: ReadonlyMap<string, CompiledDag>;
  repos: ReadonlyMap<string, RepoConfig>;
  warning?: string;
  loadedAtMs: number;
}

/**
 * The catalog as this API process last saw it. Webhook receivers read `latest()`, which never
 * starts a load, so a request from a stranger costs a map lookup and an HMAC, not a round of
 * Temporal queries and DAG compilation. Authenticated routes may read `fresh()`.
 */
export interface CatalogCache {
  /** The newest snapshot; waits only for the first load, never starts one. */
  latest(): Promise<CatalogSnapshot>;
  /** A snapshot loaded after the last `invalidate()` (coalesced with any load in flight). */
  fresh(): Promise<CatalogSnapshot>;
  /** Marks the snapshot stale (a push was accepted, a repository changed) and reloads in the background. */
  invalidate(): void;
  /** Stops the refresh timer. */
  /** Stops refreshing and waits for a load in flight, so nothing uses the Temporal client after its owner closes it. */
  close(): Promise<void>;
}

export interface CatalogCacheOptions {
  load: () => Promise<LoadedCatalog>;
  /** Reload interval; a few seconds keeps syncs made through other API processes visible. */
  refreshMs?: number;
  /** Told about loads that failed outright (the previous snapshot stays in use). */
  onError?: (error: unknown) => void;
}

export const DEFAULT_CATALOG_REFRESH_MS = 3000;

/** No snapshot exists yet (the first load failed); the timer keeps trying. */
export class CatalogUnavailableError extends Error {
  override readonly name = 'CatalogUnavailableError';
}

function snapshotOf(loaded: LoadedCatalog, now: number): CatalogSnapshot {
  return {
    catalog: loaded.catalog,
    dags: new Map(loaded.catalog.list().flatMap((entry) => (entry.dag ? [[entry.id, entry.dag] as const] : []))),
    repos: new Map(loaded.repos.map((repo) => [repo.name, repo])),
    ...(loaded.warning ? { warning: loaded.warning } : {}),
    loadedAtMs: now,
  };
}

/** Starts loading at once and then on a timer; concurrent loads are coalesced into one. */
export function createCatalogCache(options: CatalogCacheOptions): CatalogCache {
  let current: CatalogSnapshot | undefined;
  // The newest snapshot that listed the repositories: kept through Temporal outages.
  let lastComplete: CatalogSnapshot | undefined;
  let inFlight: Promise<CatalogSnapshot> | undefined;
  // Bumped by invalidate(): a load that started before it cannot satisfy fresh().
  let generation = 0;
  let loadedGeneration = -1;

  const load = (): Promise<CatalogSnapshot> => {
    if (inFlight) return inFlight;
    const startedGeneration = generation;
    inFlight = (async () => {
      try {
        const loaded = await options.load();
        // A Temporal outage yields a catalog without repositories: keep the last complete view of them.
        const next = loaded.warning && lastComplete ? { ...lastComplete, warning: loaded.warning } : snapshotOf(loaded, Date.now());
        if (!loaded.warning) lastComplete = next;
        current = next;
        loadedGeneration = startedGeneration;
        return next;
      } catch (error) {
        options.onError?.(error);
        if (current) return current;
        throw error;
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  // Whoever awaits the first load (latest() meanwhile) sees its failure; the timer tries again.
  void load().catch(() => undefined);
  const timer = setInterval(() => void load().catch(() => undefined), options.refreshMs ?? DEFAULT_CATALOG_REFRESH_MS);
  timer.unref();

  return {
    latest: async () => {
      if (current) return current;
      if (inFlight) return inFlight;
      throw new CatalogUnavailableError('the DAG catalog has not loaded yet; it is retried every few seconds');
    },
    fresh: async () => {
      if (current && loadedGeneration === generation) return current;
      const pending = inFlight;
      // A load already running may have started before the invalidation: wait for it, then load again.
      if (pending) await pending.catch(() => undefined);
      if (current && loadedGeneration === generation) return current;
      return load();
    },
    invalidate: () => {
      generation += 1;
      void load().catch(() => undefined);
    },
    close: async () => {
      clearInterval(timer);
      await inFlight?.catch(() => undefined);
    },
  };
}
