import { loadConfig, type QubinodeConfig } from '../config/config';
import { createLogger, type Logger } from '../config/logger';
import { connectClient, type TemporalClient } from '../client/connection';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { LocalCatalog } from '../dag-repos/catalog/local-catalog';

/** What commands share, each piece made on first use so `qubinode dag validate` never dials Temporal. */
export class CliContext {
  private cachedConfig: QubinodeConfig | undefined;
  private cachedLogger: Logger | undefined;
  private cachedClient: TemporalClient | undefined;
  private cachedCatalog: LocalCatalog | undefined;
  readonly registry = new ActionRegistry();

  get config(): QubinodeConfig {
    this.cachedConfig ??= loadConfig();
    return this.cachedConfig;
  }

  get logger(): Logger {
    this.cachedLogger ??= createLogger(this.config.logLevel === 'info' ? 'warn' : this.config.logLevel);
    return this.cachedLogger;
  }

  catalog(): LocalCatalog {
    this.cachedCatalog ??= LocalCatalog.load(this.config.dagDirectories, this.registry);
    return this.cachedCatalog;
  }

  async temporal(): Promise<TemporalClient> {
    this.cachedClient ??= await connectClient(this.config.temporal);
    return this.cachedClient;
  }

  async close(): Promise<void> {
    await this.cachedClient?.close();
  }
}

/** An error the CLI prints without a stack, exiting with `exitCode` (1 failure, 2 usage). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
  }
}
