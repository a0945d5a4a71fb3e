import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ApplicationFailure } from '@temporalio/common';
import { simpleGit, type SimpleGit } from 'simple-git';
import { assertBranchName, assertCommitSha, isCommitSha } from '../../../dag-repos/schema/git-refs';
import { RepoUrl } from '../../../dag-repos/schema/repo-config';
import { openGitAccess, type GitUnsafeSwitches, type RepoAccess } from './credentials';
import { fetchFailure, GIT_ERRORS, refusedInput } from './fetch-errors';

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

  /** A commit's directory; the SHA is checked first, so no other value can name a path. */
  commitDir(commit: string): string {
    try {
      return path.join(this.root, 'commits', assertCommitSha(commit));
    } catch (error) {
      throw refusedInput(error);
    }
  }

  /** This machine's pinned SSH host keys and, while a fetch runs, its temporary key files. */
  get sshDir(): string {
    return path.join(this.root, 'ssh');
  }

  /** Git sees only what it needs: no editors, pagers or hooks from the worker's environment. */
  private git(dir: string, env: Record<string, string>, unsafe: GitUnsafeSwitches = {}): SimpleGit {
    const base: Record<string, string> = {};
    for (const name of ['PATH', 'HOME', 'LANG', 'SSH_AUTH_SOCK', 'HTTPS_PROXY', 'HTTP_PROXY', 'NO_PROXY']) {
      const value = process.env[name];
      if (value !== undefined) base[name] = value;
    }
    return simpleGit({ baseDir: dir, timeout: { block: 120_000 }, unsafe }).env({ ...base, ...env });
  }

  /**
   * Fetches every branch into the mirror (force, prune), creating it on first use, with the
   * repository's credentials from the worker's environment. Returns the mirror dir.
   */
  async fetch(url: string, access: RepoAccess): Promise<string> {
    const checked = RepoUrl.safeParse(url);
    // The URL is not repeated: a refused one may hold the very credentials it must not.
    if (!checked.success) throw ApplicationFailure.create({ type: GIT_ERRORS.InvalidRepoUrl, nonRetryable: true, message: `repo ${access.name}: repository URL refused: ${checked.error.issues.map((issue) => issue.message).join('; ')}` });
    const dir = this.mirrorDir(url);
    const credentials = openGitAccess(url, access, { sshDir: this.sshDir });
    try {
      mkdirSync(dir, { recursive: true });
      const git = this.git(dir, credentials.env, credentials.unsafe);
      if (!existsSync(path.join(dir, 'HEAD'))) {
        await git.init(true);
        // The stored remote is the bare URL: credentials live in the environment of each fetch only.
        await git.addRemote('origin', url);
      }
      const remote = url.startsWith('/') || url.startsWith('.') ? path.resolve(url) : url;
      await git.raw(['fetch', '--force', '--prune', '--no-tags', '--', remote, '+refs/heads/*:refs/heads/*']);
    } catch (error) {
      throw fetchFailure(access, url, error, credentials.secrets);
    } finally {
      credentials.close();
    }
    return dir;
  }

  /** The commit a branch points at in the mirror, or undefined when the branch does not exist (deleted). */
  async branchCommit(mirror: string, branch: string): Promise<string | undefined> {
    try {
      assertBranchName(branch);
    } catch (error) {
      throw refusedInput(error);
    }
    try {
      return (await simpleGit(mirror).raw(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`])).trim() || undefined;
    } catch {
      return undefined;
    }
  }

  /** Files changed between two commits; undefined when `from` is unknown to the mirror (e.g. after a force-push and gc). */
  async changedPaths(mirror: string, from: string, to: string): Promise<string[] | undefined> {
    if (!isCommitSha(from) || !isCommitSha(to)) return undefined;
    try {
      const out = await simpleGit(mirror).raw(['diff', '--name-only', `${from}..${to}`, '--']);
      return out.split('\n').filter(Boolean);
    } catch {
      return undefined;
    }
  }

  /** A commit's files on this machine: extracted before, or fetched and extracted now (a SHA never changes, so no fetch when present). */
  async checkout(url: string, commit: string, access: RepoAccess): Promise<string> {
    const target = this.commitDir(commit);
    if (existsSync(target)) return target;
    return this.materialise(await this.fetch(url, access), commit);
  }

  /** Extracts a commit's tree once into its own directory; concurrent callers end with the same complete directory. */
  async materialise(mirror: string, commit: string): Promise<string> {
    const target = this.commitDir(commit);
    if (existsSync(target)) return target;
    const staging = `${target}.tmp-${randomUUID().slice(0, 8)}`;
    mkdirSync(staging, { recursive: true });
    const archive = `${staging}.tar`;
    try {
      await run('git', ['--git-dir', mirror, 'archive', '--format=tar', '-o', archive, commit, '--']);
      await run('tar', ['-xf', archive, '-C', staging]);
      if (!existsSync(target)) renameSync(staging, target);
    } finally {
      rmSync(archive, { force: true });
      rmSync(staging, { recursive: true, force: true });
    }
    return target;
  }
}
