import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { DagDirectory } from '../../config/config';
import { realPath, realPathInside } from '../../dag-repos/security/real-paths';

/** Where DAG repositories live on this worker, to find files a DAG names (playbooks, plans, inventories). */
export interface RepoFileDeps {
  dagDirectories?: readonly DagDirectory[];
}

export type RepoFile = { ok: true; path: string } | { ok: false; reason: string };

/**
 * Resolves `file` for the DAG `dagId` ("<repo>/<dag>"). Relative paths are looked up inside the DAG's
 * repository and must resolve there by real path: a symlink, a chain of them or `..` that leads out
 * is refused, and the returned path is the resolved one, so what was checked is what a tool opens.
 * Absolute paths are taken as given only for DAGs from the worker's own directories; a Git-synced
 * repository (`repoDir`) is untrusted and may name nothing outside itself.
 */
export function resolveRepoFile(deps: RepoFileDeps, dagId: string, file: string, repoDir?: string): RepoFile {
  const repo = dagId.split('/')[0] ?? '';
  if (path.isAbsolute(file)) {
    if (repoDir !== undefined) return { ok: false, reason: `"${file}" is an absolute path; files of repository "${repo}" are named relative to it` };
    return existsSync(file) ? { ok: true, path: file } : { ok: false, reason: `${file} does not exist on this worker` };
  }
  // A Git-synced repository is checked out by the worker at the run's commit (repoDir); local ones are configured directories.
  const source = repoDir ? { repo, dir: repoDir } : deps.dagDirectories?.find((candidate) => candidate.repo === repo);
  if (source === undefined) return { ok: false, reason: `repository "${repo}" of DAG ${dagId} is not checked out on this worker, so "${file}" cannot be found` };
  const realDir = realPath(source.dir);
  if (realDir === undefined) return { ok: false, reason: `repository "${repo}" is missing on this worker (${source.dir})` };
  const lexical = path.resolve(realDir, file);
  if (!lexical.startsWith(realDir + path.sep)) return { ok: false, reason: `"${file}" is outside repository "${repo}"` };
  // Resolved as written: `..` after a symlink climbs from the link's target, which the spelling hides.
  const asWritten = `${realDir}${path.sep}${file}`;
  if (realPath(asWritten) === undefined) return { ok: false, reason: `"${file}" does not exist in repository "${repo}" (${source.dir})` };
  const real = realPathInside(realDir, asWritten);
  if (real === undefined) return { ok: false, reason: `"${file}" resolves outside repository "${repo}" (through a symlink)` };
  return { ok: true, path: real };
}
