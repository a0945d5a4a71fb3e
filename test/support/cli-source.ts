import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../config/config';
import type { CliResult } from './cli';

/** The CLI run from its TypeScript sources (bin/qubinode.js would prefer a dist/ build that may be older than the code under test). */
export function qubinodeFromSource(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--require', 'tsx/cjs', path.join(PROJECT_ROOT, 'cli', 'main.ts'), ...args], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}
