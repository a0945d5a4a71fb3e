import type { WriteStream } from 'node:fs';

/** Flushes and closes a task log, but never lets a stuck stream hold an activity (or its cancellation) open. */
export async function closeLog(log: WriteStream, limitMs = 2000): Promise<void> {
  await Promise.race([new Promise<void>((resolve) => log.end(resolve)), new Promise<void>((resolve) => setTimeout(resolve, limitMs).unref())]);
}
