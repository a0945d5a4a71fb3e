import type { CompileContext, DagFile } from '../compiler/compile';
import type { CompiledDag } from '../compiler/compiled-dag';
import { findCatalogEntry, type CatalogEntry, type LocalCatalog } from './local-catalog';

/** What the CLI and API read DAGs from: the local directories plus the active commits of Git repositories. */
export interface DagCatalog {
  list(): CatalogEntry[];
  get(ref: string): CatalogEntry;
  compileContext(): CompileContext & { resolveDag: (ref: string, from: DagFile) => DagFile | undefined };
}

export function entryOfSyncedDag(dag: CompiledDag): CatalogEntry {
  return {
    id: dag.catalogId,
    repo: dag.origin.repo,
    path: dag.origin.path,
    absolutePath: '',
    commit: dag.origin.commit,
    description: dag.description,
    valid: true,
    diagnostics: [],
    dag,
  };
}

/** Local entries first; a synced repository of the same name replaces the local one. */
export class CompositeCatalog implements DagCatalog {
  private readonly entries = new Map<string, CatalogEntry>();

  constructor(
    private readonly local: LocalCatalog,
    synced: readonly CompiledDag[],
  ) {
    const syncedRepos = new Set(synced.map((dag) => dag.origin.repo));
    for (const entry of local.list()) if (!syncedRepos.has(entry.repo)) this.entries.set(entry.id, entry);
    for (const dag of synced) this.entries.set(dag.catalogId, entryOfSyncedDag(dag));
  }

  list(): CatalogEntry[] {
    return [...this.entries.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  get(ref: string): CatalogEntry {
    return findCatalogEntry(this.entries, ref);
  }

  compileContext(): ReturnType<LocalCatalog['compileContext']> {
    return this.local.compileContext();
  }
}
