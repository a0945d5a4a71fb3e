import { InvalidTaskLogRequestError, LogFileName, LogOffset } from '../config/task-log-request';

// Kept apart from client/logs.ts, which loads the Temporal client: the CLI's API mode needs only the cursor.

/** `name:offset,name:offset` (the API's `from` parameter) from offsets by file name. */
export function formatLogCursor(next: Record<string, number>): string {
  return Object.entries(next)
    .map(([name, offset]) => `${name}:${offset}`)
    .join(',');
}

/** Offsets by file name from `name:offset,...`; refuses anything else with InvalidTaskLogRequestError. */
export function parseLogCursor(text: string): Record<string, number> {
  const cursor: Record<string, number> = {};
  if (text === '') return cursor;
  for (const part of text.split(',')) {
    const match = /^([^:]*):(\d{1,16})$/.exec(part);
    const name = LogFileName.safeParse(match?.[1]);
    const offset = LogOffset.safeParse(Number(match?.[2]));
    if (!match || !name.success || !offset.success) throw new InvalidTaskLogRequestError(`from: expected name:offset pairs separated by ",", got "${part.slice(0, 80)}"`);
    cursor[name.data] = offset.data;
  }
  return cursor;
}
