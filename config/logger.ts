import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths of values that must never reach a log line. */
const REDACT_PATHS = ['token', '*.token', 'apiKey', '*.apiKey', 'password', '*.password', 'secret', '*.secret', 'authorization', '*.authorization', 'headers.authorization'];

/** Structured JSON logs on stderr (stdout belongs to command output). */
export function createLogger(level: string, name = 'qubinode'): Logger {
  return pino({ name, level, redact: { paths: REDACT_PATHS, censor: '***' } }, pino.destination(2));
}
