// The settings of a client process (the CLI): read from the environment and .env, checked by the settings
// schema. The CLI reaches config/ only through the client (shared/DESIGN.md).
export { ConfigError, loadConfig, type QubinodeConfig } from '../config/config';
