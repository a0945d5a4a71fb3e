/** Where task logs live: shared by the activities that write them and the CLI that reads them. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';

function sanitiseSegment(segment: string): string {
  const cleaned = segment.replace(/[^A-Za-z0-9._-]/g, '_');
  // "." and ".." would walk the tree instead of naming a directory.
  return /^\.+$/.test(cleaned) ? cleaned.replace(/\./g, '_') : cleaned;
}

/** Directory of a run's logs: `<logRoot>/<runId segments, each sanitised to [A-Za-z0-9._-]>`. */
export function runLogDir(logRoot: string, runId: string): string {
  const segments = runId
    .split('/')
    .filter((segment) => segment !== '')
    .map(sanitiseSegment);
  if (segments.length === 0) segments.push('_');
  return path.join(logRoot, ...segments);
}

/**
 * Path of a task's log file, `<logRoot>/<runId as directories>/<taskId>[.<itemIndex>].log`.
 * Creates the directory.
 */
export function taskLogPath(logRoot: string, runId: string, taskId: string, itemIndex?: number): string {
  const dir = runLogDir(logRoot, runId);
  mkdirSync(dir, { recursive: true });
  const base = sanitiseSegment(taskId === '' ? '_' : taskId);
  const suffix = itemIndex === undefined ? '' : `.${itemIndex}`;
  return path.join(dir, `${base}${suffix}.log`);
}

