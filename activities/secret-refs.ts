import { readFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { VaultClient, VaultError, parseVaultRef, vaultSettingsFromEnv } from '../plugins/vault/vault-client';

/**
 * Secret references: a value that is exactly `secret://env/NAME` or `secret://file/PATH` is
 * replaced inside the activity, so only the reference travels through workflow history.
 * The resolved values come back too, for redaction from logs and results.
 */
const SECRET_REF = /^secret:\/\/(env|file)\/(.+)$/;

export const SECRET_NOT_FOUND = 'SecretNotFound';

function resolveOne(kind: string, name: string, env: NodeJS.ProcessEnv): string {
  if (kind === 'env') {
    const value = env[name];
    if (value === undefined || value === '') throw ApplicationFailure.create({ type: SECRET_NOT_FOUND, nonRetryable: true, message: `secret://env/${name}: environment variable ${name} is not set on the worker` });
    return value;
  }
  try {
    return readFileSync(name, 'utf8').replace(/\r?\n$/, '');
  } catch (error) {
    throw ApplicationFailure.create({ type: SECRET_NOT_FOUND, nonRetryable: true, message: `secret://file/${name}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}` });
  }
}

export function resolveSecretRefs<T>(value: T, env: NodeJS.ProcessEnv = process.env): { value: T; secrets: string[] } {
  const secrets: string[] = [];
  const walk = (current: unknown): unknown => {
    if (typeof current === 'string') {
      const match = SECRET_REF.exec(current);
      if (!match) return current;
      const secret = resolveOne(match[1] ?? '', match[2] ?? '', env);
      secrets.push(secret);
      return secret;
    }
    if (Array.isArray(current)) return current.map(walk);
    if (current !== null && typeof current === 'object') return Object.fromEntries(Object.entries(current).map(([key, item]) => [key, walk(item)]));
    return current;
  };
  return { value: walk(value) as T, secrets };
}

/** Temporary failure reaching a secret store (Vault down); retried. */
export const SECRET_STORE_UNAVAILABLE = 'SecretStoreUnavailable';

/**
 * Like {@link resolveSecretRefs}, and also resolves `secret://vault/<mount>/<path>#<key>` (HashiCorp
 * Vault KV v2, see plugins/vault). Vault values are fetched first, then the same walk replaces them.
 */
export async function resolveSecretRefsAsync<T>(value: T, env: NodeJS.ProcessEnv = process.env): Promise<{ value: T; secrets: string[] }> {
  const refs = new Set<string>();
  const collect = (current: unknown): void => {
    if (typeof current === 'string' && current.startsWith('secret://vault/')) refs.add(current);
    else if (Array.isArray(current)) current.forEach(collect);
    else if (current !== null && typeof current === 'object') Object.values(current).forEach(collect);
  };
  collect(value);
  if (refs.size === 0) return resolveSecretRefs(value, env);
  const settings = vaultSettingsFromEnv(env);
  const client = settings === undefined ? undefined : new VaultClient(settings);
  const resolved = new Map<string, string>();
  for (const ref of refs) {
    const parsed = parseVaultRef(ref);
    if (parsed === undefined) throw ApplicationFailure.create({ type: SECRET_NOT_FOUND, nonRetryable: true, message: `${ref}: expected secret://vault/<mount>/<path>#<key>` });
    if (client === undefined) throw ApplicationFailure.create({ type: SECRET_NOT_FOUND, nonRetryable: true, message: `${ref}: VAULT_ADDR is not set on the worker` });
    try {
      resolved.set(ref, await client.read(parsed));
    } catch (error) {
      if (!(error instanceof VaultError)) throw error;
      throw ApplicationFailure.create({ type: error.transient ? SECRET_STORE_UNAVAILABLE : SECRET_NOT_FOUND, nonRetryable: !error.transient, message: error.message });
    }
  }
  const secrets = [...resolved.values()];
  const substitute = (current: unknown): unknown => {
    if (typeof current === 'string') return resolved.get(current) ?? current;
    if (Array.isArray(current)) return current.map(substitute);
    if (current !== null && typeof current === 'object') return Object.fromEntries(Object.entries(current).map(([key, item]) => [key, substitute(item)]));
    return current;
  };
  const rest = resolveSecretRefs(substitute(value) as T, env);
  return { value: rest.value, secrets: [...secrets, ...rest.secrets] };
}
