/** A setting of the environment or a configuration file is missing or wrong; the message says which and why. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}
