import { rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { INVALID_ACTION_INPUT, parseActionInput } from './action-input';
import type { ActionInvocation, ActionResult } from '../../dag-repos/actions/action-types';
import { formatSeconds, parseDuration } from '../../dag-repos/schema/duration';
import { taskLogPath } from '../../config/log-layout';
import { readOutputsFile } from './outputs-file';
import { createRedactor, secretEnvValues } from '../process/redact';
import { ShellInput } from '../../dag-repos/actions/shell-input';
import { runTool } from '../process/tool-process';
import { nonRetryableOf, type FailureType } from '../../dag-repos/actions/failure-types';

/** Failure types thrown by the `shell` activity. */
export const SHELL_ERRORS = {
  /** `with` does not match {@link ShellInput}. */
  InvalidActionInput: INVALID_ACTION_INPUT,
  /** The program (or shell) does not exist or cannot be executed, or `cwd` is missing. */
  CommandNotFound: 'CommandNotFound',
  /** The command exited with a code outside `successCodes`, or died from a signal. */
  CommandFailed: 'CommandFailed',
  /** `timeout` expired; the process group was killed. */
  CommandTimedOut: 'CommandTimedOut',
} as const satisfies Record<string, FailureType>;

/** Failure types that retrying cannot fix; for a retry policy's `nonRetryableErrorTypes`. */
export const SHELL_NON_RETRYABLE_ERRORS: readonly FailureType[] = nonRetryableOf(Object.values(SHELL_ERRORS));

export interface ShellActivityDeps {
  /** Root of the per-run log directories. */
  logRoot: string;
  logger?: Logger;
}

const LAST_LINE_MAX = 200;
const STRICT_SHELLS = new Set(['bash', 'zsh', 'ksh']);
const NOT_EXECUTABLE_CODES = new Set(['ENOENT', 'EACCES', 'ENOTDIR']);

/** `shell` activity: runs a command or script as its own process group, logging to the run's log directory. */
export function createShellActivities(deps: ShellActivityDeps) {
  return {
    async shell(inv: ActionInvocation<z.input<typeof ShellInput>>): Promise<ActionResult> {
      const input = parseActionInput('shell', ShellInput, inv.with);
      const ctx = Context.current();
      if (ctx.cancellationSignal.aborted) throw asCancellation(ctx.cancellationSignal.reason);

      const logPath = taskLogPath(deps.logRoot, inv.runId, inv.taskId, inv.itemIndex);
      const outputsPath = logPath.replace(/\.log$/, '.outputs');
      await writeFile(outputsPath, '');
      // Tasks run in the checkout of the commit their run is pinned to, like a CI job; a relative cwd is inside it.
      const cwd = input.cwd !== undefined ? path.resolve(inv.repoDir ?? process.cwd(), input.cwd) : inv.repoDir;
      if (cwd !== undefined) await assertDirectory(cwd);

      const [file, args] = argvOf(input);
      // The worker's secret scope hands over the resolved references; secret-named env values are redacted too.
      const secrets = [...(inv.secrets ?? []), ...secretEnvValues(input.env)];
      const redact = createRedactor(secrets);
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...input.env,
        QUBINODE_RUN_ID: inv.runId,
        QUBINODE_TASK_ID: inv.taskId,
        QUBINODE_OUTPUTS: outputsPath,
        ...(inv.repoDir ? { QUBINODE_REPO_DIR: inv.repoDir } : {}),
      };
      if (inv.itemIndex !== undefined) env.QUBINODE_ITEM_INDEX = String(inv.itemIndex);

      // The outputs file is the task's scratch: it may hold secrets as written, so it never outlives the activity.
      const ran = runTool({
        file,
        args,
        env,
        ...(cwd === undefined ? {} : { cwd }),
        logPath,
        secrets,
        tailBytes: { stdout: 4096, stderr: 4096 },
        attempt: ctx.info.attempt,
        ...(input.timeout === undefined ? {} : { timeoutMs: parseDuration(input.timeout) }),
        ...(deps.logger ? { logger: deps.logger } : {}),
      });
      let result: Awaited<typeof ran>;
      let parsed: Awaited<ReturnType<typeof readOutputsFile>>;
      try {
        result = await ran;
        parsed = await readOutputsFile(outputsPath, redact);
      } finally {
        await rm(outputsPath, { force: true });
      }
      const { stdoutTail, stderrTail, elapsedMs } = result;
      deps.logger?.debug({ runId: inv.runId, taskId: inv.taskId, pid: result.pid, exitCode: result.exitCode, elapsedMs }, 'shell: finished');

      if (result.timedOut) {
        throw ApplicationFailure.create({
          type: SHELL_ERRORS.CommandTimedOut,
          nonRetryable: false,
          message: `command timed out after ${input.timeout ?? '?'}`,
          details: [{ stdoutTail, stderrTail, logPath }],
        });
      }

      if (result.spawnError !== undefined && NOT_EXECUTABLE_CODES.has(result.spawnError)) {
        throw ApplicationFailure.create({
          type: SHELL_ERRORS.CommandNotFound,
          nonRetryable: true,
          message: `cannot run "${redact(file)}": ${result.spawnError === 'EACCES' ? 'permission denied' : 'not found'}${file.includes('/') ? '' : ' on PATH'}`,
          details: [{ program: redact(file), code: result.spawnError, logPath }],
        });
      }

      const exitCode = result.exitCode;
      if (exitCode === null || !input.successCodes.includes(exitCode)) {
        const what =
          exitCode !== null ? `exit code ${exitCode}` : result.signal !== null ? `killed by ${result.signal}` : `failed to run: ${result.spawnError ?? 'unknown error'}`;
        const hint = lastNonEmptyLine(stderrTail) ?? lastNonEmptyLine(stdoutTail);
        throw ApplicationFailure.create({
          type: SHELL_ERRORS.CommandFailed,
          nonRetryable: false,
          message: hint === undefined ? what : `${what}: ${hint}`,
          details: [{ exitCode, signal: result.signal, stdoutTail, stderrTail, logPath }],
        });
      }

      const warnings = [...parsed.warnings];
      const builtIn = { exitCode, stdout: stdoutTail, stderr: stderrTail };
      const reserved = Object.keys(parsed.outputs).filter((key) => key in builtIn);
      if (reserved.length > 0) warnings.push(`QUBINODE_OUTPUTS key(s) ${reserved.join(', ')} are reserved; ignored`);
      return {
        outputs: { ...parsed.outputs, ...builtIn },
        summary: `exit ${exitCode} in ${formatSeconds(elapsedMs)}${warnings.length > 0 ? `; warning: ${warnings.join('; ')}` : ''}`,
        logPath,
      };
    },
  };
}

function argvOf(input: ShellInput): [string, string[]] {
  if (input.command !== undefined) {
    const [program, ...args] = input.command;
    // The schema guarantees a non-empty command.
    return [program ?? '', args];
  }
  const shell = input.shell ?? '/bin/bash';
  const strict = STRICT_SHELLS.has(path.basename(shell)) ? ['-euo', 'pipefail'] : ['-eu'];
  return [shell, [...strict, '-c', input.script ?? '']];
}

async function assertDirectory(cwd: string): Promise<void> {
  const isDirectory = await stat(cwd).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
  if (!isDirectory) {
    throw ApplicationFailure.create({
      type: SHELL_ERRORS.CommandNotFound,
      nonRetryable: true,
      message: `working directory "${cwd}" does not exist or is not a directory`,
      details: [{ cwd }],
    });
  }
}

function asCancellation(reason: unknown): Error {
  return reason instanceof CancelledFailure ? reason : new CancelledFailure('cancelled', [reason]);
}

function lastNonEmptyLine(text: string): string | undefined {
  const line = text
    .split('\n')
    .map((candidate) => candidate.trim())
    .filter((candidate) => candidate !== '' && candidate !== '…')
    .at(-1);
  return line === undefined ? undefined : truncate(line, LAST_LINE_MAX);
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

