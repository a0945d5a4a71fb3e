import type { ActionRegistry } from '../dag-repos/actions/registry';
import { checkDagPath, looksLikePath } from '../dag-repos/catalog/dag-file';
import type { DagCatalog } from '../dag-repos/catalog/composite-catalog';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import { DagValidationError } from '../dag-repos/compiler/diagnostics';
import { resolveParams } from '../dag-repos/schema/params';

// What a DAG compiles to, as the CLI and the API name it.
export type { CompiledDag };

export interface PreparedRun {
  dag: CompiledDag;
  params: Record<string, unknown>;
}

/** The compiled DAG a reference names: a catalog id, or (unless `allowFiles` is false) a DAG file path. Refuses an invalid DAG. */
export function findDag(catalog: DagCatalog, registry: ActionRegistry, ref: string, options: { allowFiles?: boolean } = {}): CompiledDag {
  if (options.allowFiles !== false && looksLikePath(ref)) {
    const result = checkDagPath(ref, { ...catalog.compileContext(), registry });
    if (!result.dag) throw new DagValidationError(result.diagnostics);
    return result.dag;
  }
  const entry = catalog.get(ref);
  if (!entry.dag) throw new DagValidationError(entry.diagnostics);
  return entry.dag;
}

/**
 * Finds the DAG (catalog id or file path), refuses it if invalid, and checks the params —
 * everything that must hold before a run may start. Throws UnknownDagError, DagValidationError or ParamValidationError.
 */
export function prepareRun(
  catalog: DagCatalog,
  registry: ActionRegistry,
  ref: string,
  params: Record<string, unknown>,
  options: { fromStrings?: boolean; allowFiles?: boolean } = {},
): PreparedRun {
  const dag = findDag(catalog, registry, ref, options);
  return { dag, params: resolveParams(dag.params, params, options) };
}
