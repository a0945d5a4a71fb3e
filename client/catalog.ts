import type { Client } from '@temporalio/client';
import type { QubinodeConfig } from '../config/config';
import type { ActionRegistry } from '../dag-repos/actions/registry';
import type { RepoConfig } from '../dag-repos/git/repo-config';
import { CompositeCatalog, type DagCatalog } from '../dag-repos/catalog/composite-catalog';
import { LocalCatalog } from '../dag-repos/catalog/local-catalog';
import { listRepos } from './repos';

export interface LoadedCatalog {
  catalog: DagCatalog;
  /** Settings of the registered repositories that answered (webhook secrets by name, branch). */
  repos: RepoConfig[];
  /** Why Git repositories are missing from the catalog, when they are. */
  warning?: string;
}

/** The catalog every entry point reads: local DAG directories plus the live commit of each registered repository. */
export async function loadCatalog(config: QubinodeConfig, registry: ActionRegistry, client: Client | undefined): Promise<LoadedCatalog> {
  const local = LocalCatalog.load(config.dagDirectories, registry);
  if (!client) return { catalog: new CompositeCatalog(local, []), repos: [], warning: 'Temporal is not reachable: Git repositories are not listed' };
  try {
    const repos = await listRepos(client);
    return { catalog: new CompositeCatalog(local, repos.flatMap((repo) => repo.active?.dags ?? [])), repos: repos.map((repo) => repo.config) };
  } catch (error) {
    return { catalog: new CompositeCatalog(local, []), repos: [], warning: `Git repositories are not listed: ${(error as Error).message}` };
  }
}
