import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { formatSeconds } from '../../dag-repos/schema/duration';
import { closeLog } from './log-stream';
import { OutputTail } from './output-tail';
import { ATTEMPT_MARKER_ENV, currentAttempt } from '../platform/attempt-ledger';
import { killProcessGroup } from './process-group';
import { createRedactor, StreamRedactor } from './redact';
import { heartbeat } from './secret-scope';

/**
 * The one process runner of the activities: `shell` and every tool (ansible, kcli) start their
 * processes here, so redaction of the log, the tails, the argv line and heartbeats cannot drift apart.
 */

/** How a process ended; the caller turns it into outputs or a typed failure. */
export interface ToolRunResult {
  pid?: number;
  exitCode: number | null;
  signal: string | null;
  /** ENOENT/EACCES/ENOTDIR when the program could not start. */
  spawnError?: string;
  timedOut: boolean;
  stdoutTail: string;
  stderrTail: string;
  /** Whole redacted stdout, kept only when `keepStdout` is set (for JSON output such as `kcli -o json`). */
  stdout?: string;
  elapsedMs: number;
}

export interface ToolRunOptions {
  file: string;
  args: readonly string[];
  /** The whole environment of the process (nothing is inherited beyond it). */
  env: NodeJS.ProcessEnv;
  cwd?: string;
  logPath: string;
  /** Values that must never reach the log, the tails or heartbeats. */
  secrets: readonly string[];
  timeoutMs?: number;
  keepStdout?: boolean;
  /** Bytes kept of each stream for the result (default 8192 of stdout, 4096 of stderr). */
  tailBytes?: { stdout?: number; stderr?: number };
  /** Shown in the log's header line, e.g. the activity attempt. */
  attempt?: number;
  /** Called with each complete stdout line (redacted), e.g. to track the current ansible task; true sends a heartbeat now. */
  onLine?: (line: string) => boolean | void;
  /** More heartbeat details, sent every second while the process runs (with pid, elapsedMs, lastLine). */
  details?: () => Record<string, unknown>;
  logger?: Logger;
}

const HEARTBEAT_MS = 1_000;
const LAST_LINE_MAX = 200;

interface Capture {
  decoder: StringDecoder;
  redactor: StreamRedactor;
  tail: OutputTail;
  partial: string;
}

/**
 * Runs a program as its own process group inside an activity: redacted log file, bounded tails,
 * heartbeats with the last output line; cancellation or timeout kill the whole group.
 * Never throws for a failed exit or a program that cannot start; throws CancelledFailure when cancelled.
 */
export async function runTool(options: ToolRunOptions): Promise<ToolRunResult> {
  const ctx = Context.current();
  if (ctx.cancellationSignal.aborted) throw asCancellation(ctx.cancellationSignal.reason);
  const redact = createRedactor(options.secrets);
  const startedAt = Date.now();
  const log = createWriteStream(options.logPath, { flags: 'a' });
  // A full disk must not crash the worker; the tails still reach the result.
  log.on('error', (error) => options.logger?.warn({ logPath: options.logPath, err: error }, 'cannot write the task log'));
  const attempt = options.attempt === undefined ? '' : ` attempt ${options.attempt}:`;
  const where = options.cwd === undefined ? '' : ` (cwd ${options.cwd})`;
  log.write(`=== ${new Date(startedAt).toISOString()}${attempt} ${redact(commandLine(options.file, options.args))}${where} ===\n`);

  const attemptEntry = currentAttempt();
  // A later attempt of this activity took over on this host (workers/attempt-recovery.ts): start nothing beside it.
  if (attemptEntry?.superseded) throw ApplicationFailure.create({ type: 'AttemptSuperseded', nonRetryable: true, message: 'a later attempt of this task took over on this host' });
  // The marker lets the next worker on this host find these processes if this worker dies under them.
  const env = attemptEntry ? { ...options.env, [ATTEMPT_MARKER_ENV]: attemptEntry.id } : options.env;
  const child = spawn(options.file, options.args, { cwd: options.cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid !== undefined) attemptEntry?.addGroup(child.pid);
  const capture = (bytes: number): Capture => ({ decoder: new StringDecoder('utf8'), redactor: new StreamRedactor(options.secrets), tail: new OutputTail(bytes), partial: '' });
  const streams = { out: capture(options.tailBytes?.stdout ?? 8192), err: capture(options.tailBytes?.stderr ?? 4096) };
  const whole: string[] = [];
  const lastLine = new LastLine();
  let logEndsWithNewline = true;
  const beat = (): void => heartbeat({ pid: child.pid, elapsedMs: Date.now() - startedAt, lastLine: lastLine.last(), ...options.details?.() });
  const emit = (which: 'out' | 'err', text: string): void => {
    if (text === '') return;
    const stream = streams[which];
    log.write(text);
    logEndsWithNewline = text.endsWith('\n');
    stream.tail.push(text);
    if (which !== 'out') return;
    lastLine.push(text);
    if (options.keepStdout) whole.push(text);
    const lines = (stream.partial + text).split('\n');
    stream.partial = lines.pop() ?? '';
    for (const line of lines) if (options.onLine?.(line) === true) beat();
  };
  child.stdout.on('data', (chunk: Buffer) => emit('out', streams.out.redactor.write(streams.out.decoder.write(chunk))));
  child.stderr.on('data', (chunk: Buffer) => emit('err', streams.err.redactor.write(streams.err.decoder.write(chunk))));

  let stop: 'cancelled' | 'timeout' | undefined;
  let killing: Promise<unknown> | undefined;
  const stopGroup = (reason: 'cancelled' | 'timeout'): void => {
    if (stop !== undefined || child.pid === undefined) return;
    stop = reason;
    killing = killProcessGroup(child.pid).catch((error: unknown) => options.logger?.warn({ pid: child.pid, err: error }, 'could not kill process group'));
  };
  const onAbort = (): void => stopGroup('cancelled');
  ctx.cancellationSignal.addEventListener('abort', onAbort, { once: true });
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => stopGroup('timeout'), options.timeoutMs);
  beat();
  const heartbeats = setInterval(beat, HEARTBEAT_MS);

  let ended: { code: number | null; signal: string | null; spawnError?: string };
  try {
    ended = await new Promise((resolve) => {
      child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, signal: null, spawnError: error.code ?? redact(error.message) }));
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    await killing;
    if (child.pid !== undefined) attemptEntry?.removeGroup(child.pid);
  } finally {
    clearInterval(heartbeats);
    if (timer !== undefined) clearTimeout(timer);
    ctx.cancellationSignal.removeEventListener('abort', onAbort);
  }

  for (const which of ['out', 'err'] as const) {
    const stream = streams[which];
    emit(which, stream.redactor.write(stream.decoder.end()) + stream.redactor.end());
    if (which === 'out' && stream.partial !== '') options.onLine?.(stream.partial);
  }
  const elapsedMs = Date.now() - startedAt;
  const ending = stop ?? (ended.code !== null ? `exit ${ended.code}` : ended.signal !== null ? `signal ${ended.signal}` : `could not start (${ended.spawnError ?? 'unknown error'})`);
  log.write(`${logEndsWithNewline ? '' : '\n'}=== ${ending} after ${formatSeconds(elapsedMs)} ===\n`);
  await closeLog(log);
  if (stop === 'cancelled') throw asCancellation(ctx.cancellationSignal.reason);
  return {
    ...(child.pid === undefined ? {} : { pid: child.pid }),
    exitCode: ended.code,
    signal: ended.signal,
    ...(ended.spawnError === undefined ? {} : { spawnError: ended.spawnError }),
    timedOut: stop === 'timeout',
    stdoutTail: streams.out.tail.text(),
    stderrTail: streams.err.tail.text(),
    ...(options.keepStdout ? { stdout: whole.join('') } : {}),
    elapsedMs,
  };
}

/** Strips terminal colour codes: tools colour their output even when told not to. */
export function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
}

/** The command as a shell would read it, for the log's header line (redacted by the caller). */
export function commandLine(file: string, args: readonly string[]): string {
  return [file, ...args].map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function asCancellation(reason: unknown): Error {
  return reason instanceof CancelledFailure ? reason : new CancelledFailure('cancelled', [reason]);
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
