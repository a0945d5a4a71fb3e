import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { ActionRegistry } from '../actions/registry';
import { gitDirOf, localCommitAsync } from './git-info';
import { dagFilesIn, LocalCatalog, type CatalogSource } from './local-catalog';

/** However still a directory looks, its commit label is asked of Git again after this long. */
const GIT_RECHECK_MS = 60_000;

function statKey(file: string): unknown[] {
  try {
    const stat = statSync(file);
    return [file, stat.size, stat.mtimeMs, stat.ctimeMs, stat.ino];
  } catch {
    return [file, 'none'];
  }
}

/** The size and times of each DAG file of a directory: stat calls only, far cheaper than compiling them again. */
function filesKeyOf(dir: string): string {
  return existsSync(dir) ? JSON.stringify(dagFilesIn(dir).map(statKey)) : 'missing';
}

/** What moves when a commit is made, a branch switched or the index changed: HEAD, the ref it names, the index. */
function gitStateKey(gitDir: string): string {
  let head = '';
  try {
    head = readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim();
  } catch {
    // No HEAD: the stat keys below say so.
  }
  const ref = /^ref: (refs\/[\w./-]+)$/.exec(head)?.[1];
  const files = ['HEAD', 'index', 'packed-refs', ...(ref && !ref.includes('..') ? [ref] : [])].map((name) => statKey(path.join(gitDir, name)));
  return JSON.stringify([head, files]);
}

interface GitLook {
  gitDir?: string;
  key: string;
  commit: string;
  askedAtMs: number;
}

/**
 * The local DAG directories for a process that reloads its catalog every few seconds (the API). The files are
 * compiled again only when one of them, or the commit, changed: compiling the embedded examples takes around
 * 100 ms of the event loop, which every request would otherwise wait out. Git is asked (without holding the
 * event loop) only when the directory's files or the repository's HEAD, ref or index moved, and at least
 * every minute, since starting two git processes every few seconds costs the process a fork each.
 */
export class LocalCatalogCache {
  private last?: { fingerprint: string; catalog: LocalCatalog };
  private readonly looks = new Map<string, GitLook>();

  constructor(
    private readonly sources: readonly CatalogSource[],
    private readonly registry: ActionRegistry,
    private readonly now: () => number = Date.now,
  ) {}

  async load(): Promise<LocalCatalog> {
    const files = this.sources.map((source) => filesKeyOf(source.dir));
    const commits = await Promise.all(this.sources.map((source, index) => this.commitOf(source.dir, files[index] ?? '')));
    const fingerprint = JSON.stringify([files, commits]);
    if (this.last?.fingerprint === fingerprint) return this.last.catalog;
    const catalog = LocalCatalog.load(this.sources, this.registry, commits);
    this.last = { fingerprint, catalog };
    return catalog;
  }

  private async commitOf(dir: string, filesKey: string): Promise<string> {
    if (filesKey === 'missing') return 'local';
    const previous = this.looks.get(dir);
    const recent = previous !== undefined && this.now() - previous.askedAtMs < GIT_RECHECK_MS;
    const gitDir = recent ? previous.gitDir : await gitDirOf(dir);
    const keyNow = (): string => JSON.stringify([filesKey, gitDir ? gitStateKey(gitDir) : 'no git']);
    if (recent && previous.key === keyNow()) return previous.commit;
    const commit = gitDir ? await localCommitAsync(dir) : 'local';
    // Read after asking: `git status` may rewrite the index itself, which is no reason to ask again.
    this.looks.set(dir, { ...(gitDir ? { gitDir } : {}), key: keyNow(), commit, askedAtMs: this.now() });
    return commit;
  }
}
