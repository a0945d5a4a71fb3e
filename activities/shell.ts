import { createWriteStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { INVALID_ACTION_INPUT, parseActionInput } from './action-input';
import type { ActionInvocation, ActionResult } from './action-types';
import { formatSeconds, parseDuration } from '../dag-repos/schema/duration';
import { taskLogPath } from '../config/log-layout';
import { OutputTail } from './output-tail';
import { readOutputsFile } from './outputs-file';
import { killProcessGroup } from './process-group';
import { resolveSecretRefs } from './secret-refs';
import { StreamRedactor, createRedactor, secretEnvValues } from './redact';
import { ShellInput } from '../dag-repos/actions/shell-input';
import { closeLog } from './log-stream';

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
} as const;

export type ShellErrorType = (typeof SHELL_ERRORS)[keyof typeof SHELL_ERRORS];

/** Failure types that retrying cannot fix; for a retry policy's `nonRetryableErrorTypes`. */
export const SHELL_NON_RETRYABLE_ERRORS: readonly ShellErrorType[] = [
  SHELL_ERRORS.InvalidActionInput,
  SHELL_ERRORS.CommandNotFound,
];

export interface ShellActivityDeps {
  /** Root of the per-run log directories. */
  logRoot: string;
  logger?: Logger;
}

const HEARTBEAT_MS = 1_000;
const LAST_LINE_MAX = 200;
const STRICT_SHELLS = new Set(['bash', 'zsh', 'ksh']);
const NOT_EXECUTABLE_CODES = new Set(['ENOENT', 'EACCES', 'ENOTDIR']);

type StopReason = { kind: 'cancelled'; error: unknown } | { kind: 'timeout' };

interface StreamCapture {
  decoder: StringDecoder;
  redactor: StreamRedactor;
  tail: OutputTail;
}

/** `shell` activity: runs a command or script as its own process group, logging to the run's log directory. */
export function createShellActivities(deps: ShellActivityDeps) {
  return {
    async shell(inv: ActionInvocation<z.input<typeof ShellInput>>): Promise<ActionResult> {
      const { value: input, secrets: referencedSecrets } = resolveSecretRefs(parseActionInput('shell', ShellInput, inv.with));
      const ctx = Context.current();
      if (ctx.cancellationSignal.aborted) throw asCancellation(ctx.cancellationSignal.reason);

      const logPath = taskLogPath(deps.logRoot, inv.runId, inv.taskId, inv.itemIndex);
      const outputsPath = logPath.replace(/\.log$/, '.outputs');
      await writeFile(outputsPath, '');
      // Tasks run in the checkout of the commit their run is pinned to, like a CI job; a relative cwd is inside it.
      const cwd = input.cwd !== undefined ? path.resolve(inv.repoDir ?? process.cwd(), input.cwd) : inv.repoDir;
      if (cwd !== undefined) await assertDirectory(cwd);

      const [file, args] = argvOf(input);
      const secrets = [...secretEnvValues(input.env), ...referencedSecrets];
      const redact = createRedactor(secrets);
      const env: Record<string, string> = {
        ...input.env,
        QUBINODE_RUN_ID: inv.runId,
        QUBINODE_TASK_ID: inv.taskId,
        QUBINODE_OUTPUTS: outputsPath,
        ...(inv.repoDir ? { QUBINODE_REPO_DIR: inv.repoDir } : {}),
      };
      if (inv.itemIndex !== undefined) env.QUBINODE_ITEM_INDEX = String(inv.itemIndex);

      const { execa } = await import('execa');
      const log = createWriteStream(logPath, { flags: 'a' });
      // A full disk must not crash the worker; the tails still reach the result.
      log.on('error', (error) => deps.logger?.warn({ logPath, err: error }, 'shell: cannot write the task log'));
      const startedAt = Date.now();
      log.write(
        `=== ${new Date(startedAt).toISOString()} attempt ${ctx.info.attempt}: ${redact(describe(file, args))}` +
          `${cwd === undefined ? '' : ` (cwd ${cwd})`} ===\n`,
      );

      const child = execa(file, args, {
        cwd,
        env,
        extendEnv: true,
        detached: true,
        reject: false,
        stdin: 'ignore',
        buffer: false,
      });
      const pid = child.pid;
      deps.logger?.debug({ runId: inv.runId, taskId: inv.taskId, pid }, 'shell: started');

      const capture = (): StreamCapture => ({
        decoder: new StringDecoder('utf8'),
        redactor: new StreamRedactor(secrets),
        tail: new OutputTail(),
      });
      const out = capture();
      const err = capture();
      const lines = new LastLine();
      let logEndsWithNewline = true;
      const emit = (stream: StreamCapture, text: string, isStdout: boolean): void => {
        if (text === '') return;
        log.write(text);
        logEndsWithNewline = text.endsWith('\n');
        stream.tail.push(text);
        if (isStdout) lines.push(text);
      };
      child.stdout.on('data', (chunk: Buffer) => emit(out, out.redactor.write(out.decoder.write(chunk)), true));
      child.stderr.on('data', (chunk: Buffer) => emit(err, err.redactor.write(err.decoder.write(chunk)), false));

      let stop: StopReason | undefined;
      let killing: Promise<unknown> | undefined;
      const stopGroup = (reason: StopReason): void => {
        if (stop !== undefined) return;
        stop = reason;
        if (pid === undefined) return;
        killing = killProcessGroup(pid).catch((error: unknown) =>
          deps.logger?.warn({ pid, err: error }, 'shell: could not kill process group'),
        );
      };
      const onAbort = (): void => stopGroup({ kind: 'cancelled', error: ctx.cancellationSignal.reason });
      ctx.cancellationSignal.addEventListener('abort', onAbort, { once: true });
      const timeoutMs = input.timeout === undefined ? undefined : parseDuration(input.timeout);
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => stopGroup({ kind: 'timeout' }), timeoutMs);
      const beat = (): void => ctx.heartbeat({ pid, elapsedMs: Date.now() - startedAt, lastLine: lines.last() });
      beat();
      const heartbeat = setInterval(beat, HEARTBEAT_MS);

      let result: Awaited<typeof child>;
      try {
        result = await child;
        await killing;
      } finally {
        clearInterval(heartbeat);
        if (timer !== undefined) clearTimeout(timer);
        ctx.cancellationSignal.removeEventListener('abort', onAbort);
      }

      emit(out, out.redactor.write(out.decoder.end()) + out.redactor.end(), true);
      emit(err, err.redactor.write(err.decoder.end()) + err.redactor.end(), false);
      const elapsedMs = Date.now() - startedAt;
      const stdoutTail = out.tail.text();
      const stderrTail = err.tail.text();
      const spawnCode = spawnErrorCode(result);
      const ending =
        stop?.kind ??
        (result.exitCode !== undefined
          ? `exit ${result.exitCode}`
          : result.signal !== undefined
            ? `signal ${result.signal}`
            : `could not start (${spawnCode ?? 'unknown error'})`);
      log.write(`${logEndsWithNewline ? '' : '\n'}=== ${ending} after ${formatSeconds(elapsedMs)} ===\n`);
      await closeLog(log);
      deps.logger?.debug({ runId: inv.runId, taskId: inv.taskId, pid, ending, elapsedMs }, 'shell: finished');

      if (stop?.kind === 'cancelled') throw asCancellation(stop.error);
      if (stop?.kind === 'timeout') {
        throw ApplicationFailure.create({
          type: SHELL_ERRORS.CommandTimedOut,
          nonRetryable: false,
          message: `command timed out after ${input.timeout ?? '?'}`,
          details: [{ stdoutTail, stderrTail, logPath }],
        });
      }

      if (spawnCode !== undefined && NOT_EXECUTABLE_CODES.has(spawnCode)) {
        throw ApplicationFailure.create({
          type: SHELL_ERRORS.CommandNotFound,
          nonRetryable: true,
          message: `cannot run "${file}": ${spawnCode === 'EACCES' ? 'permission denied' : 'not found'}${
            file.includes('/') ? '' : ' on PATH'
          }`,
          details: [{ program: file, code: spawnCode, logPath }],
        });
      }

      const exitCode = result.exitCode;
      if (exitCode === undefined || !input.successCodes.includes(exitCode)) {
        const what =
          exitCode !== undefined
            ? `exit code ${exitCode}`
            : result.signal !== undefined
              ? `killed by ${result.signal}`
              : `failed to run: ${redact(result.originalMessage ?? result.shortMessage ?? 'unknown error')}`;
        const hint = lastNonEmptyLine(stderrTail) ?? lastNonEmptyLine(stdoutTail);
        throw ApplicationFailure.create({
          type: SHELL_ERRORS.CommandFailed,
          nonRetryable: false,
          message: hint === undefined ? what : `${what}: ${hint}`,
          details: [{ exitCode: exitCode ?? null, signal: result.signal ?? null, stdoutTail, stderrTail, logPath }],
        });
      }

      const parsed = await readOutputsFile(outputsPath, redact);
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

function spawnErrorCode(result: { cause?: unknown; exitCode?: number; signal?: string }): string | undefined {
  if (result.exitCode !== undefined || result.signal !== undefined) return undefined;
  const cause = result.cause as { code?: unknown } | undefined;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

function asCancellation(reason: unknown): Error {
  return reason instanceof CancelledFailure ? reason : new CancelledFailure('cancelled', [reason]);
}

function describe(file: string, args: readonly string[]): string {
  return [file, ...args].map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
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

/** Tracks the last non-empty line of a stream, for heartbeat details. */
class LastLine {
  private partial = '';
  private complete = '';

  push(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = (parts.pop() ?? '').slice(-4 * LAST_LINE_MAX);
    const found = parts.map((part) => part.trim()).filter((part) => part !== '').at(-1);
    if (found !== undefined) this.complete = found;
  }

  last(): string {
    return truncate(this.partial.trim() || this.complete, LAST_LINE_MAX);
  }
}
