import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { simpleGit, type SimpleGit } from 'simple-git';

const run = promisify(execFile);

/**
 * Local Git caches shared by syncs and by workers that need a run's files: one bare mirror per
 * remote URL, and one read-only directory per commit (content-addressed, so a SHA is extracted once).
 */
export class GitCache {
  constructor(private readonly root: string) {}

  mirrorDir(url: string): string {
    return path.join(this.root, 'mirrors', `${createHash('sha256').update(url).digest('hex').slice(0, 24)}.git`);
  }

  commitDir(commit: string): string {
    return path.join(this.root, 'commits', commit);
  }

  /** Git sees only what it needs: no editors, pagers or hooks from the worker's environment. */
  private git(dir: string, env: Record<string, string>): SimpleGit {
    const base: Record<string, string> = {};
    for (const name of ['PATH', 'HOME', 'LANG', 'SSH_AUTH_SOCK', 'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY']) {
      const value = process.env[name];
      if (value !== undefined) base[name] = value;
    }
    return simpleGit({ baseDir: dir, timeout: { block: 120_000 } }).env({ ...base, ...env });
  }

  /** Fetches every branch into the mirror (force, prune), creating it on first use. Returns the mirror dir. */
  async fetch(url: string, env: Record<string, string>): Promise<string> {
    const dir = this.mirrorDir(url);
    if (!existsSync(path.join(dir, 'HEAD'))) {
      mkdirSync(dir, { recursive: true });
      await this.git(dir, env).init(true);
      await this.git(dir, env).addRemote('origin', url);
    }
    const remote = url.startsWith('/') || url.startsWith('.') ? path.resolve(url) : url;
    await this.git(dir, env).raw(['fetch', '--force', '--prune', '--no-tags', remote, '+refs/heads/*:refs/heads/*']);
    return dir;
  }

  /** The commit a branch points at in the mirror, or undefined when the branch does not exist (deleted). */
  async branchCommit(mirror: string, branch: string): Promise<string | undefined> {
    try {
      return (await simpleGit(mirror).raw(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`])).trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /** Files changed between two commits; undefined when `from` is unknown to the mirror (e.g. after a force-push and gc). */
  async changedPaths(mirror: string, from: string, to: string): Promise<string[] | undefined> {
    try {
      const out = await simpleGit(mirror).raw(['diff', '--name-only', `${from}..${to}`]);
      return out.split('\n').filter(Boolean);
    } catch {
      return undefined;
    }
  }

  /** A commit's files on this machine: extracted before, or fetched and extracted now (a SHA never changes, so no fetch when present). */
  async checkout(url: string, commit: string, env: Record<string, string>): Promise<string> {
    const target = this.commitDir(commit);
    if (existsSync(target)) return target;
    return this.materialise(await this.fetch(url, env), commit);
  }

  /** Extracts a commit's tree once into its own directory; concurrent callers end with the same complete directory. */
  async materialise(mirror: string, commit: string): Promise<string> {
    if (!/^[0-9a-f]{40}$/.test(commit)) throw new Error(`not a full commit SHA: ${commit}`);
    const target = this.commitDir(commit);
    if (existsSync(target)) return target;
    const staging = `${target}.tmp-${randomUUID().slice(0, 8)}`;
    mkdirSync(staging, { recursive: true });
    const archive = `${staging}.tar`;
    try {
      await run('git', ['--git-dir', mirror, 'archive', '--format=tar', '-o', archive, commit]);
      await run('tar', ['-xf', archive, '-C', staging]);
      if (!existsSync(target)) renameSync(staging, target);
    } finally {
      rmSync(archive, { force: true });
      rmSync(staging, { recursive: true, force: true });
    }
    return target;
  }
}
