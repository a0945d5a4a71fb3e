import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { DagDirectory } from '../config/config';

/** Where DAG repositories live on this worker, to find files a DAG names (playbooks, plans, inventories). */
export interface RepoFileDeps {
  dagDirectories?: readonly DagDirectory[];
}

export type RepoFile = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Resolves `file` for the DAG `dagId` ("<repo>/<dag>"): absolute paths as given, relative ones inside
 * the DAG's repository. Paths that climb out of the repository are refused.
 */
export function resolveRepoFile(deps: RepoFileDeps, dagId: string, file: string, repoDir?: string): RepoFile {
  if (path.isAbsolute(file)) return existsSync(file) ? { ok: true, path: file } : { ok: false, reason: `${file} does not exist on this worker` };
  const repo = dagId.split('/')[0] ?? '';
  // A Git-synced repository is checked out by the worker at the run's commit (repoDir); local ones are configured directories.
  const source = repoDir ? { repo, dir: repoDir } : deps.dagDirectories?.find((candidate) => candidate.repo === repo);
  if (source === undefined) return { ok: false, reason: `repository "${repo}" of DAG ${dagId} is not checked out on this worker, so "${file}" cannot be found` };
  const resolved = path.resolve(source.dir, file);
  if (!resolved.startsWith(path.resolve(source.dir) + path.sep)) return { ok: false, reason: `"${file}" is outside repository "${repo}"` };
  return existsSync(resolved) ? { ok: true, path: resolved } : { ok: false, reason: `"${file}" does not exist in repository "${repo}" (${source.dir})` };
}
