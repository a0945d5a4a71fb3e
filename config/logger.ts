import pino, { type Logger } from 'pino';
import { shapeLogRecord } from './log-failure';
import { formatPretty } from './log-pretty';

export type { Logger };

/** Paths of values that must never reach a log line. */
const REDACT_PATHS = ['token', '*.token', 'apiKey', '*.apiKey', 'password', '*.password', 'secret', '*.secret', 'authorization', '*.authorization', 'headers.authorization'];

/** `json`: one JSON object a line; `pretty`: for people; `auto`: pretty on a terminal, JSON otherwise (QUBINODE_LOG_FORMAT). */
export type LogFormat = 'auto' | 'json' | 'pretty';

/** Where log lines go; stderr by default (stdout belongs to command output). */
export interface LogSink {
  write(text: string): unknown;
}

export interface LoggerOptions {
  format?: LogFormat;
  sink?: LogSink;
  /** Whether stderr is a terminal (where `auto` picks pretty, and colours may be used). */
  isTty?: boolean;
  /** Colours in pretty text; default: on a terminal, unless NO_COLOR is set. */
  colour?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Pretty text on a terminal and JSON elsewhere, unless the format is given. */
export function resolveLogFormat(format: LogFormat, isTty: boolean): 'json' | 'pretty' {
  return format === 'auto' ? (isTty ? 'pretty' : 'json') : format;
}

/** pino's JSON lines turned into pretty text on their way to the sink. */
function prettySink(sink: LogSink, colour: boolean): LogSink {
  return {
    write: (line: string) => {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return sink.write(line);
      }
      return sink.write(formatPretty(record, { colour }));
    },
  };
}

/**
 * The project's logger: redacted, with failures shortened to their type, message and output tail
 * (see log-failure.ts), as JSON lines or as text for people.
 */
export function createLogger(level: string, name = 'qubinode', options: LoggerOptions = {}): Logger {
  const env = options.env ?? process.env;
  const isTty = options.isTty ?? Boolean(process.stderr.isTTY);
  const format = resolveLogFormat(options.format ?? 'auto', isTty);
  const base = options.sink ?? pino.destination(2);
  // Colours only where a person looks at a terminal, and never when NO_COLOR asks (no-color.org).
  const colour = options.colour ?? (isTty && options.sink === undefined && (env.NO_COLOR ?? '') === '');
  const destination = format === 'pretty' ? prettySink(base, colour) : base;
  return pino({ name, level, redact: { paths: REDACT_PATHS, censor: '***' }, formatters: { log: shapeLogRecord } }, destination as pino.DestinationStream);
}
