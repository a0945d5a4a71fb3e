import { Runtime, type Logger as SdkLogger, type LogLevel, type LogMetadata } from '@temporalio/worker';
import type { Logger } from '../config/logger';

const LEVELS: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/** The Temporal SDK's log lines (worker state, bundler, workflow `log`) through our structured logger. */
function sdkLogger(logger: Logger): SdkLogger {
  const write = (level: LogLevel, message: string, meta?: LogMetadata): void => logger[LEVELS[level]]({ ...meta }, message);
  return {
    log: write,
    trace: (message, meta) => write('TRACE', message, meta),
    debug: (message, meta) => write('DEBUG', message, meta),
    info: (message, meta) => write('INFO', message, meta),
    warn: (message, meta) => write('WARN', message, meta),
    error: (message, meta) => write('ERROR', message, meta),
  };
}

/**
 * Installs the SDK runtime with our logger. The runtime is per process and can be installed once;
 * later calls (a second worker in the same process) keep the first.
 */
export function installSdkRuntime(logger: Logger): void {
  try {
    Runtime.install({ logger: sdkLogger(logger.child({ component: 'temporal-sdk' })) });
  } catch {
    // already installed in this process
  }
}
