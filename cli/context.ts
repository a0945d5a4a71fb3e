import { loadConfig, type QubinodeConfig } from '../config/config';
import { createLogger, type Logger } from '../config/logger';
import { connectClient, type TemporalClient } from '../client/connection';
import type { ActionRegistry } from '../dag-repos/actions/registry';
import { actionRegistryWith, loadConfiguredPlugins } from '../plugins/plugin-actions';
import { loadCatalog } from '../client/catalog';
import type { DagCatalog } from '../dag-repos/catalog/composite-catalog';
import { LocalCatalog } from '../dag-repos/catalog/local-catalog';
import { ApiClient, loadApiToken } from '../client/api-client';
import type { CliBackend } from './backend/backend';
import { apiBackend } from './backend/api-backend';
import { directBackend } from './backend/direct-backend';

/** What commands share, each piece made on first use so `qubinode dag validate` never dials Temporal. */
export class CliContext {
  private cachedConfig: QubinodeConfig | undefined;
  private cachedLogger: Logger | undefined;
  private cachedClient: TemporalClient | undefined;
  private cachedLocalCatalog: LocalCatalog | undefined;
  private cachedCatalog: DagCatalog | undefined;
  private cachedRegistry: ActionRegistry | undefined;
  private cachedBackend: CliBackend | undefined;

  /** The API when QUBINODE_API_URL is set (a personal token, no Temporal credentials), else Temporal directly. */
  backend(): CliBackend {
    const remote = this.config.remoteApi;
    this.cachedBackend ??= remote ? apiBackend(new ApiClient(remote, loadApiToken(remote, this.config.api.token))) : directBackend(this);
    return this.cachedBackend;
  }

  /** Built-in actions plus those of the configured plugins. */
  get registry(): ActionRegistry {
    this.cachedRegistry ??= actionRegistryWith(loadConfiguredPlugins(this.config));
    return this.cachedRegistry;
  }

  get config(): QubinodeConfig {
    this.cachedConfig ??= loadConfig();
    return this.cachedConfig;
  }

  get logger(): Logger {
    this.cachedLogger ??= createLogger(this.config.logLevel === 'info' ? 'warn' : this.config.logLevel);
    return this.cachedLogger;
  }

  /** DAG directories on this machine only: enough to validate files, no Temporal needed. */
  localCatalog(): LocalCatalog {
    this.cachedLocalCatalog ??= LocalCatalog.load(this.config.dagDirectories, this.registry);
    return this.cachedLocalCatalog;
  }

  /** Local directories plus the live commits of registered Git repositories (read from Temporal). */
  async catalog(): Promise<DagCatalog> {
    if (this.cachedCatalog) return this.cachedCatalog;
    const client = await this.serviceTemporal().then(
      (temporal) => temporal.client,
      () => undefined,
    );
    const loaded = await loadCatalog(this.config, this.registry, client);
    if (loaded.warning) console.error(`qubinode: ${loaded.warning}`);
    this.cachedCatalog = loaded.catalog;
    return loaded.catalog;
  }

  /** Temporal for an operator's command: refused when QUBINODE_API_URL says this machine works through the API. */
  async temporal(): Promise<TemporalClient> {
    // Said plainly instead of dialing an address an operator's machine is not meant to reach.
    if (this.config.remoteApi) throw new CliError('this command talks to Temporal directly, which is for admins on the control plane; unset QUBINODE_API_URL to use it');
    return this.serviceTemporal();
  }

  /** Temporal for the services this machine runs (`up`, `worker`): they need it whatever the CLI's API setting says. */
  async serviceTemporal(): Promise<TemporalClient> {
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
