import type * as SettingsModule from '../client/settings';
import type { QubinodeConfig } from '../client/settings';
import type * as LoggerModule from '../client/logger';
import type { Logger } from '../client/logger';
import type * as ConnectionModule from '../client/temporal-client';
import type { TemporalClient } from '../client/temporal-client';
import type * as LocalTools from '../workers/local-tools';
import type * as CatalogModule from '../client/catalog';
import type { DagCatalog } from '../client/catalog';
import type * as LocalDagsModule from '../client/local-dags';
import type { ActionRegistry, LocalCatalog } from '../client/local-dags';
import type * as ApiClientModule from '../client/api-client';
import type { CliBackend } from './backend/backend';
import type * as ApiBackendModule from './backend/api-backend';
import type * as DirectBackendModule from './backend/direct-backend';

// Each module is loaded on first use: `qubinode --help` loads none of them, `qubinode dag list` only what it reads.
const settingsModule = (): typeof SettingsModule => require('../client/settings') as typeof SettingsModule;
const loggerModule = (): typeof LoggerModule => require('../client/logger') as typeof LoggerModule;
const connectionModule = (): typeof ConnectionModule => require('../client/temporal-client') as typeof ConnectionModule;
const configuredActionRegistry: typeof LocalTools.configuredActionRegistry = (...args) => (require('../workers/local-tools') as typeof LocalTools).configuredActionRegistry(...args);
const catalogModule = (): typeof CatalogModule => require('../client/catalog') as typeof CatalogModule;
const loadLocalCatalog: typeof LocalDagsModule.loadLocalCatalog = (...args) => (require('../client/local-dags') as typeof LocalDagsModule).loadLocalCatalog(...args);
const apiClientModule = (): typeof ApiClientModule => require('../client/api-client') as typeof ApiClientModule;
const apiBackend: typeof ApiBackendModule.apiBackend = (...args) => (require('./backend/api-backend') as typeof ApiBackendModule).apiBackend(...args);
const directBackend: typeof DirectBackendModule.directBackend = (...args) => (require('./backend/direct-backend') as typeof DirectBackendModule).directBackend(...args);

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
    if (!this.cachedBackend && remote) {
      const { ApiClient, loadApiToken } = apiClientModule();
      this.cachedBackend = apiBackend(new ApiClient(remote, loadApiToken(remote, this.config.api.token)));
    }
    this.cachedBackend ??= directBackend(this);
    return this.cachedBackend;
  }

  /** Built-in actions plus those of the configured plugins. */
  get registry(): ActionRegistry {
    this.cachedRegistry ??= configuredActionRegistry(this.config);
    return this.cachedRegistry;
  }

  get config(): QubinodeConfig {
    this.cachedConfig ??= settingsModule().loadConfig();
    return this.cachedConfig;
  }

  get logger(): Logger {
    this.cachedLogger ??= loggerModule().createLogger(this.config.logLevel === 'info' ? 'warn' : this.config.logLevel, 'qubinode', { format: this.config.logFormat });
    return this.cachedLogger;
  }

  /** DAG directories on this machine only: enough to validate files, no Temporal needed. */
  localCatalog(): LocalCatalog {
    this.cachedLocalCatalog ??= loadLocalCatalog(this.config.dagDirectories, this.registry);
    return this.cachedLocalCatalog;
  }

  /** Local directories plus the live commits of registered Git repositories (read from Temporal). */
  async catalog(): Promise<DagCatalog> {
    if (this.cachedCatalog) return this.cachedCatalog;
    const client = await this.serviceTemporal().then(
      (temporal) => temporal.client,
      () => undefined,
    );
    const loaded = await catalogModule().loadCatalog(this.config, this.registry, client);
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
    this.cachedClient ??= await connectionModule().connectClient(this.config.temporal);
    return this.cachedClient;
  }

  async close(): Promise<void> {
    await this.cachedClient?.close();
  }
}

/** An error the CLI prints without a stack, exiting with `exitCode` (1 failure, 2 usage; a command may document more). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = 1,
  ) {
    super(message);
  }
}
