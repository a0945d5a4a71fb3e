import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, query, runPath } from './api';
import { POLL_MS } from './poll';
import type { RunLogs } from './types';

/** The page keeps the last this many characters of a log: a tail, not the whole file. */
export const LOG_TAIL_CHARS = 200_000;

export interface LogTail {
  text: string;
  /** Why no log text came (no worker for the host, no log for the task yet). */
  note?: string;
}

/**
 * A task's log text, read from GET /api/runs/<id>/logs and continued from the answer's cursor every
 * POLL_MS while `follow` holds (the task runs). Once it ended, it reads until nothing is left plus
 * once more (the last lines are written as the task ends), then rests until `follow` holds again.
 */
export function useLogTail(runId: string, taskId: string, follow: boolean): LogTail {
  const [tail, setTail] = useState<LogTail>({ text: '' });
  const followRef = useRef(follow);
  followRef.current = follow;
  const wake = useRef<() => void>(() => {});

  useEffect(() => {
    let stopped = false;
    let resting = false;
    let lastRead = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let cursor = '';
    let lastFile = '';
    let text = '';
    const read = async (): Promise<void> => {
      let more = false;
      try {
        const logs = await get<RunLogs>(`${runPath(runId)}/logs${query({ task: taskId, from: cursor || undefined })}`);
        if (stopped) return;
        for (const file of logs.files) {
          if (file.text === '') continue;
          // A task with forEach items writes one file per item: say where each part comes from.
          if (file.name !== lastFile && (lastFile !== '' || file.name !== taskId)) text += `${text && !text.endsWith('\n') ? '\n' : ''}── ${file.name} (${file.queue}) ──\n`;
          lastFile = file.name;
          text += file.text;
        }
        if (text.length > LOG_TAIL_CHARS) text = text.slice(text.length - LOG_TAIL_CHARS);
        cursor = logs.cursor || cursor;
        more = logs.more;
        const unavailable = logs.unavailable.map((entry) => entry.message).join('; ');
        setTail({ text, ...(unavailable ? { note: `some logs are unavailable: ${unavailable}` } : {}) });
      } catch (error) {
        if (stopped) return;
        const note = error instanceof ApiError && (error.status === 404 || error.status === 503) ? error.message : `logs could not be read: ${(error as Error).message}`;
        setTail({ text, note });
      }
      if (stopped) return;
      if (more) timer = setTimeout(() => void read(), 0);
      else if (followRef.current) {
        lastRead = false;
        timer = setTimeout(() => void read(), POLL_MS);
      } else if (!lastRead) {
        lastRead = true;
        timer = setTimeout(() => void read(), POLL_MS);
      } else resting = true;
    };
    wake.current = () => {
      if (!resting || stopped) return;
      resting = false;
      void read();
    };
    void read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [runId, taskId]);

  // A retried task runs again: follow it from where the log stopped.
  useEffect(() => {
    if (follow) wake.current();
  }, [follow]);

  return tail;
}
