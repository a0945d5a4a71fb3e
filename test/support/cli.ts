import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../config/config';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `qubinode` bin as a user would, with extra environment. */
export function qubinode(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'qubinode.js'), ...args], { env: { ...process.env, ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
