import { existsSync, openSync, readdirSync, readSync, closeSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { runLogDir } from '../config/log-layout';

export interface TaskLogFile {
  /** `task` or `task.3` for a forEach item. */
  name: string;
  path: string;
}

/** The log files of a run on this machine, optionally of one task (and its forEach items). */
export function runLogFiles(logRoot: string, runId: string, taskId?: string): TaskLogFile[] {
  const dir = runLogDir(logRoot, runId);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.log'))
    .map((file) => ({ name: file.slice(0, -'.log'.length), path: path.join(dir, file) }))
    .filter((file) => taskId === undefined || file.name === taskId || file.name.startsWith(`${taskId}.`))
    .sort((a, b) => statSync(a.path).mtimeMs - statSync(b.path).mtimeMs || a.name.localeCompare(b.name));
}

/** Reads what a file gained since `offset`; returns the text and the new offset. */
export function readFrom(file: string, offset: number): { text: string; offset: number } {
  const size = statSync(file).size;
  if (size <= offset) return { text: '', offset };
  const buffer = Buffer.alloc(size - offset);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buffer, 0, buffer.length, offset);
  } finally {
    closeSync(fd);
  }
  return { text: buffer.toString('utf8'), offset: size };
}
