import type { QubinodePlugin } from '../plugin-api';
import { vaultSettingsFromEnv } from './vault-client';

/**
 * HashiCorp Vault plugin: `secret://vault/<mount>/<path>#<key>` references are resolved inside
 * activities (activities/process/secret-refs.ts). Its facts say only whether Vault is configured, never a secret.
 */
export const plugin: QubinodePlugin = {
  name: 'vault',
  description: 'Resolves secret://vault/<mount>/<path>#<key> (KV v2; token or AppRole) inside activities',
  facts(ctx) {
    const settings = vaultSettingsFromEnv(ctx.env);
    if (settings === undefined) return { configured: false };
    return { configured: true, address: settings.address, auth: settings.token !== undefined ? 'token' : settings.roleId !== undefined ? 'approle' : 'none' };
  },
};
