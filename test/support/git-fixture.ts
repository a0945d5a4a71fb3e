import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** A real bare repository on disk and a working clone that commits and pushes to it. */
export class GitFixture {
  readonly root = mkdtempSync(path.join(tmpdir(), 'qubinode-git-'));
  readonly bare = path.join(this.root, 'origin.git');
  readonly work = path.join(this.root, 'work');

  constructor(branch = 'main') {
    this.git(this.root, 'init', '--bare', '--initial-branch', branch, this.bare);
    // Like a forge, the remote lets a pusher delete its default branch.
    this.git(this.bare, 'config', 'receive.denyDeleteCurrent', 'ignore');
    this.git(this.root, 'clone', '--quiet', this.bare, this.work);
    this.git(this.work, 'checkout', '--quiet', '-B', branch);
    this.git(this.work, 'config', 'user.email', 'test@example.invalid');
    this.git(this.work, 'config', 'user.name', 'Test');
  }

  git(cwd: string, ...args: string[]): string {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  }

  write(file: string, text: string): this {
    const full = path.join(this.work, file);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, text);
    return this;
  }

  symlink(file: string, target: string): this {
    const full = path.join(this.work, file);
    mkdirSync(path.dirname(full), { recursive: true });
    symlinkSync(target, full);
    return this;
  }

  remove(file: string): this {
    rmSync(path.join(this.work, file), { force: true, recursive: true });
    return this;
  }

  /** Commits everything and pushes; returns the new commit SHA. */
  commitAndPush(message: string, options: { force?: boolean; branch?: string } = {}): string {
    this.git(this.work, 'add', '-A');
    this.git(this.work, 'commit', '--quiet', '--allow-empty', '-m', message);
    this.git(this.work, 'push', '--quiet', ...(options.force ? ['--force'] : []), 'origin', `HEAD:${options.branch ?? 'main'}`);
    return this.head();
  }

  head(): string {
    return this.git(this.work, 'rev-parse', 'HEAD');
  }

  resetHard(commit: string): void {
    this.git(this.work, 'reset', '--quiet', '--hard', commit);
  }

  deleteRemoteBranch(branch: string): void {
    this.git(this.work, 'push', '--quiet', 'origin', `:${branch}`);
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

export function dagYaml(id: string, extra = ''): string {
  return `id: ${id}\ndescription: ${id} from git\n${extra}tasks:\n  - id: say\n    uses: shell\n    with:\n      command: [echo, "${id}"]\n`;
}
