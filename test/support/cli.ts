import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../config/config';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runNode(nodeArgs: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<CliResult> {
  return new Promise((resolve) => {
    // A listing of a long-lived dev server (every host any test registered) outgrows execFile's 1 MiB default.
    execFile(process.execPath, [...nodeArgs], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/**
 * Runs the real `qubinode` bin as a user would, with extra environment. The bin runs the sources even
 * beside a dist/ build (`npm run build`, `npm run bench`), which may be older than the code under test.
 */
export function qubinode(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runNode([path.join(PROJECT_ROOT, 'bin', 'qubinode.js'), ...args], { QUBINODE_FROM_SOURCES: '1', ...env }, 120_000);
}

/** The CLI run from its TypeScript sources (bin/qubinode.js would prefer a dist/ build that may be older than the code under test). */
export function qubinodeFromSource(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runNode(['--require', 'tsx/cjs', path.join(PROJECT_ROOT, 'cli', 'main.ts'), ...args], env, 60_000);
}
