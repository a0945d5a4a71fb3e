import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { OutputTail } from './output-tail';
import { killProcessGroup } from './process-group';
import { StreamRedactor } from './redact';
import { closeLog } from './log-stream';

/** How a tool run ended; the caller turns it into outputs or a typed failure. */
export interface ToolRunResult {
  exitCode: number | null;
  signal: string | null;
  /** ENOENT/EACCES when the program could not start. */
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
  env: NodeJS.ProcessEnv;
  cwd?: string;
  logPath: string;
  /** Values that must never reach logs or tails. */
  secrets: readonly string[];
  timeoutMs?: number;
  keepStdout?: boolean;
  /** Called with each complete stdout line (redacted), e.g. to track the current ansible task; true sends a heartbeat now. */
  onLine?: (line: string) => boolean | void;
  /** Heartbeat details, sent every second while the tool runs. */
  details?: () => Record<string, unknown>;
}

const HEARTBEAT_MS = 1_000;

/**
 * Runs a tool as its own process group inside an activity: redacted log file, bounded tails,
 * heartbeats, and cancellation or timeout kill the whole group. Never throws for a failed exit.
 */
export async function runTool(options: ToolRunOptions): Promise<ToolRunResult> {
  const ctx = Context.current();
  if (ctx.cancellationSignal.aborted) throw asCancellation(ctx.cancellationSignal.reason);
  const startedAt = Date.now();
  const log = createWriteStream(options.logPath, { flags: 'a' });
  log.on('error', () => undefined); // A full disk must not crash the worker; tails still reach the result.
  log.write(`=== ${new Date(startedAt).toISOString()} ${[options.file, ...options.args].join(' ')} ===\n`);

  const child = spawn(options.file, options.args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const streams = {
    out: { decoder: new StringDecoder('utf8'), redactor: new StreamRedactor(options.secrets), tail: new OutputTail(8192), partial: '' },
    err: { decoder: new StringDecoder('utf8'), redactor: new StreamRedactor(options.secrets), tail: new OutputTail(4096), partial: '' },
  };
  const whole: string[] = [];
  const beat = (): void => ctx.heartbeat({ pid: child.pid, elapsedMs: Date.now() - startedAt, ...options.details?.() });
  const emit = (which: 'out' | 'err', text: string): void => {
    if (text === '') return;
    const stream = streams[which];
    log.write(text);
    stream.tail.push(text);
    if (which === 'out') {
      if (options.keepStdout) whole.push(text);
      const lines = (stream.partial + text).split('\n');
      stream.partial = lines.pop() ?? '';
      for (const line of lines) if (options.onLine?.(line) === true) beat();
    }
  };
  child.stdout.on('data', (chunk: Buffer) => emit('out', streams.out.redactor.write(streams.out.decoder.write(chunk))));
  child.stderr.on('data', (chunk: Buffer) => emit('err', streams.err.redactor.write(streams.err.decoder.write(chunk))));

  let stop: 'cancelled' | 'timeout' | undefined;
  const stopGroup = (reason: 'cancelled' | 'timeout'): void => {
    if (stop !== undefined || child.pid === undefined) return;
    stop = reason;
    void killProcessGroup(child.pid).catch(() => undefined);
  };
  const onAbort = (): void => stopGroup('cancelled');
  ctx.cancellationSignal.addEventListener('abort', onAbort, { once: true });
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => stopGroup('timeout'), options.timeoutMs);
  beat();
  const heartbeat = setInterval(beat, HEARTBEAT_MS);

  const ended = await new Promise<{ code: number | null; signal: string | null; spawnError?: string }>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, signal: null, spawnError: error.code ?? error.message }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  clearInterval(heartbeat);
  if (timer !== undefined) clearTimeout(timer);
  ctx.cancellationSignal.removeEventListener('abort', onAbort);

  for (const which of ['out', 'err'] as const) {
    const stream = streams[which];
    emit(which, stream.redactor.write(stream.decoder.end()) + stream.redactor.end());
    if (which === 'out' && stream.partial !== '') options.onLine?.(stream.partial);
  }
  const elapsedMs = Date.now() - startedAt;
  log.write(`\n=== ${stop ?? (ended.code !== null ? `exit ${ended.code}` : `signal ${ended.signal ?? ended.spawnError ?? '?'}`)} after ${(elapsedMs / 1000).toFixed(1)}s ===\n`);
  await closeLog(log);
  if (stop === 'cancelled') throw asCancellation(ctx.cancellationSignal.reason);
  return {
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

function asCancellation(reason: unknown): Error {
  return reason instanceof CancelledFailure ? reason : new CancelledFailure('cancelled', [reason]);
}
