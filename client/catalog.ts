import type { Client } from '@temporalio/client';
import type { QubinodeConfig } from '../config/config';
import type { ActionRegistry } from '../dag-repos/actions/registry';
import type { RepoConfig } from '../dag-repos/schema/repo-config';
import { CompositeCatalog, type DagCatalog } from '../dag-repos/catalog/composite-catalog';
import { LocalCatalog } from '../dag-repos/catalog/local-catalog';
import { LocalCatalogCache } from '../dag-repos/catalog/local-catalog-cache';
import type { RepoView } from '../dag-repos/schema/sync-types';
import { listRepos, listReposKeeping } from './repos';

// The catalog and its entries as the CLI lists them.
export type { DagCatalog };
export type { CatalogEntry } from '../dag-repos/catalog/local-catalog';

export interface LoadedCatalog {
  catalog: DagCatalog;
  /** Settings of the registered repositories that answered (webhook secrets by name, branch). */
  repos: RepoConfig[];
  /** Why Git repositories are missing from the catalog, when they are. */
  warning?: string;
}

/** The catalog every entry point reads: local DAG directories plus the live commit of each registered repository. */
export async function loadCatalog(
  config: QubinodeConfig,
  registry: ActionRegistry,
  client: Client | undefined,
  list: (client: Client) => Promise<RepoView[]> = listRepos,
  localCatalog: () => Promise<LocalCatalog> = async () => LocalCatalog.load(config.dagDirectories, registry),
): Promise<LoadedCatalog & { views: RepoView[] }> {
  const local = await localCatalog();
  if (!client) return { catalog: new CompositeCatalog(local, []), repos: [], views: [], warning: 'Temporal is not reachable: Git repositories are not listed' };
  try {
    const views = await list(client);
    return { catalog: new CompositeCatalog(local, views.flatMap((repo) => repo.active?.dags ?? [])), repos: views.map((repo) => repo.config), views };
  } catch (error) {
    return { catalog: new CompositeCatalog(local, []), repos: [], views: [], warning: `Git repositories are not listed: ${(error as Error).message}` };
  }
}

/**
 * `loadCatalog` for a process that reloads the catalog on a timer (the API's cache): each load remembers the
 * repositories it read, and a repository that does not answer the next time keeps what it had (see listReposKeeping);
 * local DAG files are compiled again only when they changed.
 */
export function catalogLoader(config: QubinodeConfig, registry: ActionRegistry, client: Client): () => Promise<LoadedCatalog> {
  let known = new Map<string, RepoView>();
  const local = new LocalCatalogCache(config.dagDirectories, registry);
  return async () => {
    const loaded = await loadCatalog(config, registry, client, (reachable) => listReposKeeping(reachable, known), () => local.load());
    if (!loaded.warning) known = new Map(loaded.views.map((view) => [view.config.name, view]));
    return loaded;
  };
}
