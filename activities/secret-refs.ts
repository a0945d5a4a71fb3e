import { readFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { isSecretReference, type SecretRef } from '../dag-repos/compiler/secret-references';
import { VaultClient, VaultError, parseVaultRef, vaultSettingsFromEnv } from '../plugins/vault/vault-client';

/**
 * Secret references are resolved inside activities, so only the reference travels through workflow
 * history. Only references the DAG author wrote are resolved (the compiler lists them per task):
 * a value rendered from a param, a webhook payload or an upstream output is text, whatever it reads.
 */

export const SECRET_NOT_FOUND = 'SecretNotFound';
/** Temporary failure reaching a secret store (Vault down); retried. */
export const SECRET_STORE_UNAVAILABLE = 'SecretStoreUnavailable';

const ENV_OR_FILE = /^secret:\/\/(env|file)\/(.+)$/;

function notFound(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: SECRET_NOT_FOUND, nonRetryable: true, message });
}

/** Resolves references one after another, sharing one Vault client (one AppRole login). */
class SecretResolver {
  private vault: VaultClient | undefined;

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  async resolve(ref: string): Promise<string> {
    const local = ENV_OR_FILE.exec(ref);
    if (local?.[1] === 'env') {
      const name = local[2] ?? '';
      const value = this.env[name];
      if (value === undefined || value === '') throw notFound(`secret://env/${name}: environment variable ${name} is not set on the worker`);
      return value;
    }
    if (local?.[1] === 'file') {
      const file = local[2] ?? '';
      try {
        return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
      } catch (error) {
        throw notFound(`secret://file/${file}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
      }
    }
    const parsed = parseVaultRef(ref);
    if (parsed === undefined) throw notFound(`${ref}: expected secret://vault/<mount>/<path>#<key>`);
    try {
      return await this.vaultClient(ref).read(parsed);
    } catch (error) {
      if (!(error instanceof VaultError)) throw error;
      throw ApplicationFailure.create({ type: error.transient ? SECRET_STORE_UNAVAILABLE : SECRET_NOT_FOUND, nonRetryable: !error.transient, message: error.message });
    }
  }

  private vaultClient(ref: string): VaultClient {
    if (this.vault !== undefined) return this.vault;
    const settings = vaultSettingsFromEnv(this.env);
    if (settings === undefined) throw notFound(`${ref}: VAULT_ADDR is not set on the worker`);
    this.vault = new VaultClient(settings);
    return this.vault;
  }
}

function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

/** A copy of `root` with `value` at `path`; only the containers along the path are copied. */
function withValueAt(root: unknown, path: readonly (string | number)[], value: unknown): unknown {
  const [key, ...rest] = path;
  if (key === undefined) return value;
  if (Array.isArray(root)) return root.map((item: unknown, index) => (index === key ? withValueAt(item, rest, value) : item));
  const copy: Record<string, unknown> = { ...(root as Record<string, unknown>) };
  // defineProperty: a key such as "__proto__" stays a plain key.
  Object.defineProperty(copy, String(key), { value: withValueAt(copy[String(key)], rest, value), enumerable: true, writable: true, configurable: true });
  return copy;
}

/**
 * Resolves the author's references in `value` (a task's rendered `with`). A reference is used only
 * where the value at its path is still exactly that reference; everything else is left as it is.
 * Returns the resolved values too, for redaction.
 */
export async function resolveSecretRefsAt<T>(value: T, refs: readonly SecretRef[], env: NodeJS.ProcessEnv = process.env): Promise<{ value: T; secrets: string[] }> {
  const resolver = new SecretResolver(env);
  const secrets: string[] = [];
  let current: unknown = value;
  for (const { path, ref } of refs) {
    if (!isSecretReference(ref) || valueAt(current, path) !== ref) continue;
    const secret = await resolver.resolve(ref);
    secrets.push(secret);
    current = withValueAt(current, path, secret);
  }
  return { value: current as T, secrets };
}

/** One value written by the DAG author outside tasks (a `notify:` channel URL): resolved when it is a reference. */
export async function resolveAuthorValue(value: string, env: NodeJS.ProcessEnv = process.env): Promise<{ value: string; secret?: string }> {
  if (!isSecretReference(value)) return { value };
  const secret = await new SecretResolver(env).resolve(value);
  return { value: secret, secret };
}
