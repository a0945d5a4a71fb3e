import { statSync } from 'node:fs';
import * as path from 'node:path';
import type { ActionRegistry } from '../dag-repos/actions/registry';
import { checkDagPath } from '../dag-repos/catalog/dag-file';
import { LocalCatalog, type CatalogSource } from '../dag-repos/catalog/local-catalog';
import type { DagDiagnostic } from '../dag-repos/compiler/diagnostics';

// DAG files on this machine, compiled here without Temporal: `qubinode dag validate`, and file paths
// given to `dag show`, `dag graph` and `run`. The action registry is passed in (plugins add to it).
export { looksLikePath } from '../dag-repos/catalog/dag-file';
export { formatDiagnostic, type DagDiagnostic } from '../dag-repos/compiler/diagnostics';
export type { ActionRegistry, LocalCatalog };

export interface ValidationOutcome {
  path: string;
  id?: string;
  valid: boolean;
  diagnostics: DagDiagnostic[];
}

/** The DAG directories of this machine, compiled with the actions of `registry`. */
export function loadLocalCatalog(sources: readonly CatalogSource[], registry: ActionRegistry): LocalCatalog {
  return LocalCatalog.load(sources, registry);
}

/**
 * Checks one DAG file, or every DAG file of a directory (a catalog of its own, named after the folder).
 * A single file compiles against `catalog()`, where the sub-DAGs it calls are found; a directory does not need it.
 */
export function validateDagPath(target: string, registry: ActionRegistry, catalog: () => LocalCatalog): ValidationOutcome[] {
  if (statSync(target).isDirectory()) {
    const own = LocalCatalog.load([{ repo: path.basename(path.resolve(target)), dir: target }], registry);
    return own.list().map((entry) => ({ path: path.join(target, entry.path), id: entry.id, valid: entry.valid, diagnostics: entry.diagnostics.map((d) => ({ ...d, file: path.join(target, d.file) })) }));
  }
  const result = checkDagPath(target, { ...catalog().compileContext(), registry });
  return [{ path: target, ...(result.dag ? { id: result.dag.id } : {}), valid: result.dag !== undefined, diagnostics: result.diagnostics }];
}
