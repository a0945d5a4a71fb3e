import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { commandLine } from '../process/tool-process';
import type { StepResult } from './network-checkpoint-store';

/** Each revert command gets this long before its process group is killed and the next one runs. */
export const REVERT_STEP_TIMEOUT_MS = 60_000;
const TAIL_BYTES = 2_048;

/** The environment of revert commands: only what a network tool needs, nothing of the worker's. */
export function revertEnvironment(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' };
}

function note(logPath: string | undefined, text: string): void {
  if (logPath === undefined) return;
  try {
    appendFileSync(logPath, text);
  } catch {
    // A missing log directory must not stop a revert.
  }
}

/** Runs one argv as its own process group (no shell), killed after `timeoutMs`; never throws. */
function runStep(argv: readonly string[], logPath: string | undefined, timeoutMs: number): Promise<StepResult> {
  const [file, ...args] = argv as [string, ...string[]];
  const command = commandLine(file, args);
  note(logPath, `--- ${new Date().toISOString()} ${command}\n`);
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(file, args, { env: revertEnvironment(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-TAIL_BYTES);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }, timeoutMs);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      note(logPath, `--- could not start: ${error.code ?? error.message}\n`);
      resolve({ command, exitCode: null, error: error.code ?? error.message });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      note(logPath, `${output}${output === '' || output.endsWith('\n') ? '' : '\n'}--- ${code !== null ? `exit ${code}` : `signal ${String(signal)}`}\n`);
      resolve({ command, exitCode: code, ...(signal ? { signal } : {}) });
    });
  });
}

/** Runs every revert command in order, whatever each one exits with: a half-reverted change is worse than a noisy one. */
export async function runRevertSteps(steps: readonly (readonly string[])[], logPath: string | undefined, timeoutMs = REVERT_STEP_TIMEOUT_MS): Promise<StepResult[]> {
  const results: StepResult[] = [];
  for (const step of steps) results.push(await runStep(step, logPath, timeoutMs));
  return results;
}
