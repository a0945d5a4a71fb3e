import { closeSync, constants, fstatSync, lstatSync, openSync, readdirSync, readSync } from 'node:fs';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { runLogDir } from '../../config/log-layout';
import { INVALID_LOG_REQUEST, InvalidTaskLogRequestError, parseTaskLogRequest, TASK_LOG_MAX_BYTES, TASK_LOG_MAX_FILES, type TaskLogChunk, type TaskLogFileChunk, type TaskLogRequest } from '../../config/task-log-request';
import { isWithin, realPath } from '../../dag-repos/security/real-paths';

interface LogFile {
  name: string;
  real: string;
  mtimeMs: number;
}

/**
 * The run's log files on this machine: regular files directly in the run's directory, which itself
 * resolves inside the log root. A symlink, a directory spelled `x.log` or a FIFO planted there never
 * makes this worker read anything else (or hang).
 */
function matchingFiles(logRoot: string, request: TaskLogRequest): LogFile[] {
  const realRoot = realPath(logRoot);
  const dir = realPath(runLogDir(logRoot, request.runId));
  if (realRoot === undefined || dir === undefined || !isWithin(realRoot, dir)) return [];
  const files: LogFile[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    // The entry's own type, not its target's: a symlink is never followed, even to a sibling.
    if (!entry.isFile() || !entry.name.endsWith('.log')) continue;
    const name = entry.name.slice(0, -'.log'.length);
    const { taskId } = request;
    if (taskId !== undefined && name !== taskId && !(name.startsWith(`${taskId}.`) && /^\d+$/.test(name.slice(taskId.length + 1)))) continue;
    const real = path.join(dir, entry.name);
    const stat = lstatSync(real, { throwIfNoEntry: false });
    if (!stat?.isFile()) continue;
    files.push({ name, real, mtimeMs: stat.mtimeMs });
  }
  return files.sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
}

/** Length of `buffer` without a UTF-8 sequence cut off at its end, so no answer splits a character. */
export function completeUtf8Length(buffer: Buffer): number {
  const end = buffer.length;
  for (let back = 1; back <= Math.min(3, end); back += 1) {
    const byte = buffer[end - back] as number;
    if ((byte & 0xc0) === 0x80) continue;
    // A lead byte: keep its sequence only when all its bytes are here.
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? end - back : end;
  }
  return end;
}

/** Reads up to `limit` bytes of `file` from `offset`; never follows a link swapped in after the check. */
function readChunk(file: LogFile, offset: number, limit: number): { chunk: TaskLogFileChunk; limited: boolean } | undefined {
  let fd: number;
  try {
    fd = openSync(file.real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return undefined;
    const size = stat.size;
    const start = Math.min(offset, size);
    const buffer = Buffer.alloc(Math.min(size - start, limit));
    const read = buffer.length > 0 ? readSync(fd, buffer, 0, buffer.length, start) : 0;
    const length = completeUtf8Length(buffer.subarray(0, read));
    return { chunk: { name: file.name, offset: start, nextOffset: start + length, size, text: buffer.subarray(0, length).toString('utf8') }, limited: size - start > limit };
  } finally {
    closeSync(fd);
  }
}

/** Reads a run's task logs from this worker's log root, within the request's byte and file budget. */
export function readTaskLogFiles(logRoot: string, request: TaskLogRequest): TaskLogChunk {
  const files = matchingFiles(logRoot, request);
  let budget = request.maxBytes ?? TASK_LOG_MAX_BYTES;
  const chunks: TaskLogFileChunk[] = [];
  let more = false;
  for (const file of files) {
    const offset = request.from?.[file.name] ?? request.offset ?? 0;
    if (budget === 0 || chunks.length === TASK_LOG_MAX_FILES) {
      // Whether anything is left unread decides `more`; files without new text cost nothing.
      const size = lstatSync(file.real, { throwIfNoEntry: false })?.size ?? 0;
      if (size > offset) more = true;
      continue;
    }
    const read = readChunk(file, offset, budget);
    if (!read) continue;
    const { chunk, limited } = read;
    if (chunk.nextOffset > chunk.offset) chunks.push(chunk);
    budget -= chunk.nextOffset - chunk.offset;
    if (limited) {
      // The budget ran out inside this file: the rest (of it and of later files) waits for the next call.
      more = true;
      budget = 0;
    }
  }
  return { files: chunks, matched: files.length, more };
}

export interface TaskLogReadDeps {
  /** Root of this worker's per-run log directories. */
  logRoot: string;
}

/**
 * `readTaskLog`, registered on every worker so the control plane can read the log of a task that ran
 * on another host (through the taskLogRead workflow, on that host's queue). Only files of the named
 * run's log directory are readable; they were redacted when written.
 */
export function createTaskLogReadActivities(deps: TaskLogReadDeps) {
  return {
    async readTaskLog(input: unknown): Promise<TaskLogChunk> {
      let request: TaskLogRequest;
      try {
        request = parseTaskLogRequest(input);
      } catch (error) {
        if (error instanceof InvalidTaskLogRequestError) throw ApplicationFailure.create({ type: INVALID_LOG_REQUEST, message: error.message, nonRetryable: true });
        throw error;
      }
      return readTaskLogFiles(deps.logRoot, request);
    },
  };
}

export type TaskLogReadActivities = ReturnType<typeof createTaskLogReadActivities>;
export type { TaskLogChunk, TaskLogFileChunk, TaskLogRequest } from '../../config/task-log-request';
