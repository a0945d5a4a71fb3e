import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { ActionRegistry } from '../actions/registry';
import type { CompiledDag } from '../compiler/compiled-dag';
import type { DagFile } from '../compiler/compile';
import type { DagDiagnostic } from '../compiler/diagnostics';
import { didYouMean } from '../schema/suggest';
import { checkCatalogFile, readDagFileText } from './catalog-file';
import { localCommit } from './git-info';

export interface CatalogSource {
  repo: string;
  dir: string;
}

export interface CatalogEntry {
  /** `<repo>/<dag id>`; for a file whose id cannot be read, `<repo>/<file name>`. */
  id: string;
  repo: string;
  /** Path inside the repository. */
  path: string;
  absolutePath: string;
  commit: string;
  description: string;
  valid: boolean;
  diagnostics: DagDiagnostic[];
  dag?: CompiledDag;
}

export class UnknownDagError extends Error {
  override readonly name = 'UnknownDagError';
  constructor(readonly ref: string, known: readonly string[]) {
    super(`unknown DAG "${ref}"${didYouMean(ref, known)}; run \`qubinode dag list\` to see the catalog`);
  }
}

const DAG_FILE = /\.ya?ml$/i;

/** An entry by catalog id; a bare DAG id is accepted when exactly one repository has it. */
export function findCatalogEntry(entries: ReadonlyMap<string, CatalogEntry>, ref: string): CatalogEntry {
  const exact = entries.get(ref);
  if (exact) return exact;
  const byBareId = [...entries.values()].filter((entry) => entry.id.endsWith(`/${ref}`));
  if (byBareId.length === 1 && byBareId[0]) return byBareId[0];
  throw new UnknownDagError(ref, [...entries.keys()].sort());
}

/** YAML files below `dir`, sorted; `recursive` walks sub-folders too. */
export function yamlFilesUnder(dir: string, recursive = true): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return recursive ? yamlFilesUnder(full, true) : [];
      return entry.isFile() && DAG_FILE.test(entry.name) ? [full] : [];
    });
}

/** DAG files of a repository: everything under `dags/` when it exists, else the YAML files at its top level. */
export function dagFilesIn(dir: string): string[] {
  const dagsDir = path.join(dir, 'dags');
  return existsSync(dagsDir) && statSync(dagsDir).isDirectory() ? yamlFilesUnder(dagsDir) : yamlFilesUnder(dir, false);
}

/** The `id:` of a DAG file, read without parsing it (so even an invalid file gets a catalog entry). */
export function readDagId(text: string): string | undefined {
  return /^id:\s*["']?([A-Za-z0-9._-]+)/m.exec(text)?.[1];
}

/**
 * DAGs read from local directories (the embedded default: dag-repos/examples), compiled at load.
 * Git-synced repositories build on the same entries.
 */
export class LocalCatalog {
  private readonly entries = new Map<string, CatalogEntry>();
  private readonly files = new Map<string, DagFile>();

  private constructor(private readonly registry: ActionRegistry) {}

  /** `commits`, by source, when the caller has read them already (see local-catalog-cache.ts). */
  static load(sources: readonly CatalogSource[], registry: ActionRegistry, commits?: readonly string[]): LocalCatalog {
    const catalog = new LocalCatalog(registry);
    for (const [index, source] of sources.entries()) {
      if (!existsSync(source.dir)) continue;
      const commit = commits?.[index] ?? localCommit(source.dir);
      for (const absolutePath of dagFilesIn(source.dir)) {
        const relative = path.relative(source.dir, absolutePath);
        const read = readDagFileText(absolutePath, relative);
        const text = read.ok ? read.text : '';
        const id = `${source.repo}/${readDagId(text) ?? path.basename(absolutePath).replace(DAG_FILE, '')}`;
        // A file that cannot be read is listed with its reason; the others load as usual.
        if (read.ok) catalog.files.set(id, { repo: source.repo, path: relative, commit, text });
        catalog.entries.set(id, { id, repo: source.repo, path: relative, absolutePath, commit, description: '', valid: false, diagnostics: read.ok ? [] : [read.diagnostic] });
      }
    }
    for (const [id, file] of catalog.files) {
      const result = checkCatalogFile(file, catalog.compileContext());
      const entry = catalog.entries.get(id) as CatalogEntry;
      catalog.entries.set(id, {
        ...entry,
        description: result.spec?.description ?? '',
        valid: result.dag !== undefined,
        diagnostics: result.diagnostics,
        ...(result.dag ? { dag: result.dag } : {}),
      });
    }
    return catalog;
  }

  compileContext(): { registry: ActionRegistry; resolveDag: (ref: string, from: DagFile) => DagFile | undefined } {
    return {
      registry: this.registry,
      resolveDag: (ref: string, from: DagFile) => this.files.get(ref) ?? this.files.get(`${from.repo}/${ref}`),
    };
  }

  list(): CatalogEntry[] {
    return [...this.entries.values()].sort((a, b) => a.id.localeCompare(b.id));
  }


  get(ref: string): CatalogEntry {
    return findCatalogEntry(this.entries, ref);
  }
}
