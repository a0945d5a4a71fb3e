import { z } from 'zod';
import { zodProblems } from './zod-problems';

/**
 * Reading a run's task logs from the worker that wrote them: the request the control plane sends to a
 * host's queue and the chunk that comes back. Shared by the activity that reads the files, the
 * workflow that routes the request, and the client and API that ask. Pure (zod only).
 */

/** Most bytes of log text one read returns (all files together); keeps each answer far below Temporal's payload limit. */
export const TASK_LOG_MAX_BYTES = 256 * 1024;
/** Most files one answer lists; a huge forEach is read in several calls. */
export const TASK_LOG_MAX_FILES = 1000;
/** Most offsets one request carries (a forEach of this many items can still be followed). */
const MAX_OFFSETS = 10_000;

/** A run id as the engine makes them (`dag/<repo>/<dag>/<key>`): plain segments, none of them only dots. */
export const LogRunId = z
  .string()
  .min(5)
  .max(400)
  .regex(/^dag(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$/, { message: 'must be a run id such as dag/<repo>/<dag>/<key>' });

/** A task id (as in DAG files). */
export const LogTaskId = z
  .string()
  .max(63)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, { message: 'must be a task id: letters, digits, "_" and "-"' });

/** A log file's name: the task id, or `<task>.<item>` for a forEach item. */
export const LogFileName = z
  .string()
  .max(80)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]*(\.\d{1,9})?$/, { message: 'must be a log name: <task> or <task>.<item>' });

export const LogOffset = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

export const TaskLogRequest = z
  .object({
    runId: LogRunId,
    /** Only this task's files (and its forEach items); all of the run's files when absent. */
    taskId: LogTaskId.optional(),
    /** Where to start in each file, by name (the nextOffset of an earlier answer). */
    from: z.record(LogFileName, LogOffset).refine((value) => Object.keys(value).length <= MAX_OFFSETS, { message: `at most ${MAX_OFFSETS} offsets` }).optional(),
    /** Start of files not named in `from` (default 0). */
    offset: LogOffset.optional(),
    maxBytes: z.number().int().min(1).max(TASK_LOG_MAX_BYTES).optional(),
  })
  .strict();
export type TaskLogRequest = z.infer<typeof TaskLogRequest>;

/** New text of one log file. */
export interface TaskLogFileChunk {
  /** `task` or `task.3`. */
  name: string;
  /** Byte offset the text starts at. */
  offset: number;
  /** Byte offset to ask from next time; below `size` when this answer stopped early. */
  nextOffset: number;
  /** The file's size when read. */
  size: number;
  text: string;
}

export interface TaskLogChunk {
  /** Files with text past their offset, oldest first. */
  files: TaskLogFileChunk[];
  /** How many log files matched, with or without new text. */
  matched: number;
  /** True when the byte or file budget ran out: ask again with the new offsets for the rest. */
  more: boolean;
}

/** Failure type of a log request the host's worker refused; retrying cannot fix it. */
export const INVALID_LOG_REQUEST = 'InvalidTaskLogRequest';

/** A request that names something outside a run's log directory, or is malformed. */
export class InvalidTaskLogRequestError extends Error {
  override readonly name = 'InvalidTaskLogRequestError';
}

/** Validates a request; the message names the offending field. */
export function parseTaskLogRequest(input: unknown): TaskLogRequest {
  const parsed = TaskLogRequest.safeParse(input);
  if (parsed.success) return parsed.data;
  throw new InvalidTaskLogRequestError(zodProblems(parsed.error, 'request').join('; '));
}
