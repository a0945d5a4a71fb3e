/**
 * What a log line says about a failure. The Temporal SDK logs every failed activity with the failure as
 * it is (the task's output tail in its details, the task token); printed whole that is kilobytes of
 * output as one JSON line. A log line keeps the failure's type and message, the end of the output, and
 * the command that shows the full log.
 */

/** How much of a failed task's output a log line keeps: the last lines, and no more than this many bytes. */
export const TAIL_LINES = 20;
export const TAIL_BYTES = 4096;
const MESSAGE_CHARS = 1000;
const CAUSE_DEPTH = 3;

/** The last `TAIL_LINES` lines of `text`, at most `TAIL_BYTES` bytes, marked when something was cut. */
export function boundedTail(text: string): string {
  const trimmed = text.replace(/\n+$/, '');
  let lines = trimmed.split('\n');
  let cut = lines.length > TAIL_LINES;
  lines = lines.slice(-TAIL_LINES);
  let tail = lines.join('\n');
  if (Buffer.byteLength(tail) > TAIL_BYTES) {
    cut = true;
    // Cut on a character boundary: keep the last TAIL_BYTES bytes' worth of whole characters.
    const bytes = Buffer.from(tail);
    tail = bytes.subarray(bytes.length - TAIL_BYTES).toString('utf8').replace(/^\uFFFD+/, '');
  }
  return cut ? `…\n${tail}` : tail;
}

function bounded(text: string, limit: number): string {
  return text.length > limit ? `${text.slice(0, limit)}… (${text.length - limit} more characters)` : text;
}

interface OutputDetails {
  exitCode?: unknown;
  signal?: unknown;
  stdoutTail?: unknown;
  stderrTail?: unknown;
  logPath?: unknown;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The first details entry that describes a process's output, if any. */
function outputDetails(failure: Record<string, unknown>): OutputDetails | undefined {
  const details = failure.details;
  if (!Array.isArray(details)) return undefined;
  return details.find((entry): entry is OutputDetails => isRecord(entry) && ('stdoutTail' in entry || 'stderrTail' in entry || 'exitCode' in entry));
}

/** The `qubinode logs` command that prints a task's whole log, when the record names a run's task. */
export function logsCommand(record: Record<string, unknown>): string | undefined {
  const run = record.workflowId;
  const activity = record.activityId;
  if (typeof run !== 'string' || typeof activity !== 'string' || !run.startsWith('dag/')) return undefined;
  // A forEach item's activity id ends in [index]; `qubinode logs RUN TASK` shows all of a task's items.
  return `qubinode logs ${run} ${activity.replace(/\[\d+\]$/, '')}`;
}

/** A failure (an Error, or the plain object the SDK passes) as a small record. */
export function summariseFailure(value: unknown, record: Record<string, unknown> = {}, depth = 0): Record<string, unknown> | unknown {
  if (!isRecord(value) && !(value instanceof Error)) return typeof value === 'string' ? bounded(value, MESSAGE_CHARS) : value;
  const failure = value as Record<string, unknown> & Partial<Error>;
  const summary: Record<string, unknown> = {};
  const type = typeof failure.type === 'string' ? failure.type : value instanceof Error ? value.name : undefined;
  if (type !== undefined) summary.type = type;
  if (typeof failure.message === 'string' && failure.message !== '') summary.message = bounded(failure.message, MESSAGE_CHARS);
  if (typeof failure.nonRetryable === 'boolean') summary.nonRetryable = failure.nonRetryable;
  const output = outputDetails(failure);
  if (output) {
    if (output.exitCode !== undefined && output.exitCode !== null) summary.exitCode = output.exitCode;
    if (typeof output.signal === 'string') summary.signal = output.signal;
    if (typeof output.stdoutTail === 'string' && output.stdoutTail !== '') summary.stdoutTail = boundedTail(output.stdoutTail);
    if (typeof output.stderrTail === 'string' && output.stderrTail !== '') summary.stderrTail = boundedTail(output.stderrTail);
    if (typeof output.logPath === 'string') summary.logPath = output.logPath;
  }
  // A stack tells where an unexpected error came from; a Temporal failure's (type set) is the SDK's own.
  if (value instanceof Error && type === value.name && typeof value.stack === 'string') summary.stack = bounded(value.stack, TAIL_BYTES);
  const logs = depth === 0 ? logsCommand(record) : undefined;
  if (logs !== undefined) summary.fullLog = logs;
  if (failure.cause !== undefined && depth < CAUSE_DEPTH) summary.cause = summariseFailure(failure.cause, record, depth + 1);
  return summary;
}

/** Keys of a log record that hold a failure. */
const FAILURE_KEYS = ['err', 'error', 'failure'] as const;
/** Keys dropped from every record: an activity's task token completes it, and is no use to a reader. */
const DROPPED_KEYS = ['taskToken'] as const;

/** The record with its failures summarised and its dropped keys removed (a copy; the input is untouched). */
export function shapeLogRecord(record: Record<string, unknown>): Record<string, unknown> {
  if (!FAILURE_KEYS.some((key) => key in record) && !DROPPED_KEYS.some((key) => key in record)) return record;
  const shaped: Record<string, unknown> = { ...record };
  for (const key of DROPPED_KEYS) delete shaped[key];
  for (const key of FAILURE_KEYS) if (key in shaped) shaped[key] = summariseFailure(shaped[key], record);
  return shaped;
}
