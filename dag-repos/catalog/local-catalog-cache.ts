import { existsSync, statSync } from 'node:fs';
import type { ActionRegistry } from '../actions/registry';
import { localCommitAsync } from './git-info';
import { dagFilesIn, LocalCatalog, type CatalogSource } from './local-catalog';

/**
 * What a local catalog was built from: each directory's commit and the size and times of each DAG file in it.
 * Stat calls only, so comparing costs far less than compiling the files again.
 */
function fingerprintOf(sources: readonly CatalogSource[], commits: readonly string[]): string {
  return JSON.stringify(
    sources.map((source, index) => {
      if (!existsSync(source.dir)) return [source.dir, 'missing'];
      const files = dagFilesIn(source.dir).map((file) => {
        try {
          const stat = statSync(file);
          return [file, stat.size, stat.mtimeMs, stat.ctimeMs, stat.ino];
        } catch {
          return [file, 'gone'];
        }
      });
      return [source.dir, commits[index], files];
    }),
  );
}

/**
 * The local DAG directories for a process that reloads its catalog every few seconds (the API): Git is asked
 * without holding the event loop, and the files are compiled again only when one of them, or the commit, changed.
 * Compiling the embedded examples takes around 100 ms of the event loop, which every request would otherwise wait out.
 */
export class LocalCatalogCache {
  private last?: { fingerprint: string; catalog: LocalCatalog };

  constructor(
    private readonly sources: readonly CatalogSource[],
    private readonly registry: ActionRegistry,
  ) {}

  async load(): Promise<LocalCatalog> {
    const commits = await Promise.all(this.sources.map((source) => (existsSync(source.dir) ? localCommitAsync(source.dir) : Promise.resolve('local'))));
    const fingerprint = fingerprintOf(this.sources, commits);
    if (this.last?.fingerprint === fingerprint) return this.last.catalog;
    const catalog = LocalCatalog.load(this.sources, this.registry, commits);
    this.last = { fingerprint, catalog };
    return catalog;
  }
}
