import { execFileSync } from 'node:child_process';

/** The commit a local directory is at: `<sha>` or `<sha>+dirty`; `local` outside a Git work tree. */
export function localCommit(dir: string): string {
  try {
    const sha = execFileSync('git', ['-C', dir, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--', '.'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'local';
  }
}
