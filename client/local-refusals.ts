import type * as ConfigModule from '../config/config';
import type * as LocalCatalogModule from '../dag-repos/catalog/local-catalog';
import type * as DiagnosticsModule from '../dag-repos/compiler/diagnostics';
import type * as ParamsModule from '../dag-repos/schema/params';

/** Error classes of one module, by export name; the names are checked against the module's exports at compile time. */
export interface ErrorSource {
  /** Resolved as `require` resolves it, so the same entry works from the sources and from dist/. */
  readonly resolve: () => string;
  readonly names: readonly string[];
}

export function errorSource<M>(resolve: () => string, ...names: readonly (keyof M & string)[]): ErrorSource {
  return { resolve, names };
}

/**
 * Refusals of this machine's settings and DAG files whose message is the whole story (a bad setting, an
 * unknown or invalid DAG, bad params). The modules are named, not imported: an error can only be an
 * instance of a class whose module is loaded, so a caller looks at loaded modules only and loads none.
 */
export const LOCAL_REFUSALS: readonly ErrorSource[] = [
  errorSource<typeof ConfigModule>(() => require.resolve('../config/config'), 'ConfigError'),
  errorSource<typeof LocalCatalogModule>(() => require.resolve('../dag-repos/catalog/local-catalog'), 'UnknownDagError'),
  errorSource<typeof DiagnosticsModule>(() => require.resolve('../dag-repos/compiler/diagnostics'), 'DagValidationError'),
  errorSource<typeof ParamsModule>(() => require.resolve('../dag-repos/schema/params'), 'ParamValidationError'),
];
