import { IllegalStateError } from '@temporalio/common';
import { Runtime, type Logger as SdkLogger, type LogLevel, type LogMetadata } from '@temporalio/worker';
import type { Logger } from '../config/logger';
import { workerMetricsExporter } from './metrics';

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

export interface SdkRuntimeOptions {
  /** `IP:port` where the runtime serves Prometheus metrics at `/metrics`; none when undefined. */
  metricsAddress?: string;
}

// What the first install in this process asked for: the runtime cannot be changed afterwards.
let installedMetricsAddress: string | undefined;

/**
 * Installs the SDK runtime with our logger and, when asked, its Prometheus endpoint. The runtime is
 * per process and can be installed once; later calls (a second worker in the same process) keep the
 * first, and say so when they asked for a metrics endpoint the first did not open. An endpoint that
 * cannot be bound (address in use) fails the install, so a worker never runs unobserved by mistake.
 */
export function installSdkRuntime(logger: Logger, options: SdkRuntimeOptions = {}): void {
  try {
    Runtime.install({
      logger: sdkLogger(logger.child({ component: 'temporal-sdk' })),
      ...(options.metricsAddress ? { telemetryOptions: { metrics: workerMetricsExporter(options.metricsAddress) } } : {}),
    });
    installedMetricsAddress = options.metricsAddress;
  } catch (error) {
    if (!(error instanceof IllegalStateError)) throw error;
    if (options.metricsAddress && options.metricsAddress !== installedMetricsAddress) {
      logger.warn({ metricsAddress: options.metricsAddress, serving: installedMetricsAddress ?? 'none' }, 'the Temporal SDK runtime of this process was installed before; its metrics endpoint stays as it was');
    }
  }
}
