import type * as ConfigModule from '../config/config';
import type { QubinodeConfig } from '../config/config';
import type * as LoggerModule from '../config/logger';
import type { Logger } from '../config/logger';
import type * as ConnectionModule from '../client/connection';
import type { TemporalClient } from '../client/connection';
import type { ActionRegistry } from '../dag-repos/actions/registry';
import type * as PluginActions from '../plugins/plugin-actions';
import type * as CatalogModule from '../client/catalog';
import type { DagCatalog } from '../dag-repos/catalog/composite-catalog';
import type * as LocalCatalogModule from '../dag-repos/catalog/local-catalog';
import type { LocalCatalog } from '../dag-repos/catalog/local-catalog';
import type * as ApiClientModule from '../client/api-client';
import type { CliBackend } from './backend/backend';
import type * as ApiBackendModule from './backend/api-backend';
import type * as DirectBackendModule from './backend/direct-backend';

// Each module is loaded on first use: `qubinode --help` loads none of them, `qubinode dag list` only what it reads.
const configModule = (): typeof ConfigModule => require('../config/config') as typeof ConfigModule;
const loggerModule = (): typeof LoggerModule => require('../config/logger') as typeof LoggerModule;
const connectionModule = (): typeof ConnectionModule => require('../client/connection') as typeof ConnectionModule;
const pluginActions = (): typeof PluginActions => require('../plugins/plugin-actions') as typeof PluginActions;
const catalogModule = (): typeof CatalogModule => require('../client/catalog') as typeof CatalogModule;
const localCatalogModule = (): typeof LocalCatalogModule => require('../dag-repos/catalog/local-catalog') as typeof LocalCatalogModule;
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
    if (!this.cachedRegistry) {
      const { actionRegistryWith, loadConfiguredPlugins } = pluginActions();
      this.cachedRegistry = actionRegistryWith(loadConfiguredPlugins(this.config));
    }
    return this.cachedRegistry;
  }

  get config(): QubinodeConfig {
    this.cachedConfig ??= configModule().loadConfig();
    return this.cachedConfig;
  }

  get logger(): Logger {
    this.cachedLogger ??= loggerModule().createLogger(this.config.logLevel === 'info' ? 'warn' : this.config.logLevel, 'qubinode', { format: this.config.logFormat });
    return this.cachedLogger;
  }

  /** DAG directories on this machine only: enough to validate files, no Temporal needed. */
  localCatalog(): LocalCatalog {
    this.cachedLocalCatalog ??= localCatalogModule().LocalCatalog.load(this.config.dagDirectories, this.registry);
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
