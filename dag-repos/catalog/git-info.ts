import { execFile, execFileSync, type ExecFileSyncOptionsWithStringEncoding } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const QUIET: ExecFileSyncOptionsWithStringEncoding = { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] };

/** The commit a local directory is at: `<sha>` or `<sha>+dirty`; `local` outside a Git work tree. */
export function localCommit(dir: string): string {
  try {
    const sha = execFileSync('git', ['-C', dir, 'rev-parse', 'HEAD'], QUIET).trim();
    const dirty = execFileSync('git', ['-C', dir, 'status', '--porcelain', '--', '.'], QUIET).trim();
    return commitLabel(sha, dirty);
  } catch {
    return 'local';
  }
}

/** `localCommit` without holding the event loop while Git runs: for processes that reload the catalog on a timer. */
export async function localCommitAsync(dir: string): Promise<string> {
  try {
    const sha = (await run('git', ['-C', dir, 'rev-parse', 'HEAD'], { encoding: 'utf8' })).stdout.trim();
    const dirty = (await run('git', ['-C', dir, 'status', '--porcelain', '--', '.'], { encoding: 'utf8' })).stdout.trim();
    return commitLabel(sha, dirty);
  } catch {
    return 'local';
  }
}

function commitLabel(sha: string, dirty: string): string {
  return dirty ? `${sha}+dirty` : sha;
}

/** The Git directory of a work tree (absolute), or undefined outside one. */
export async function gitDirOf(dir: string): Promise<string | undefined> {
  try {
    return (await run('git', ['-C', dir, 'rev-parse', '--absolute-git-dir'], { encoding: 'utf8' })).stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}
