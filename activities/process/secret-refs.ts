import { readFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import type { FailureType } from '../../dag-repos/actions/failure-types';
import type { SecretRef } from '../../dag-repos/compiler/secret-references';
import { claimsSecretUri, formatSecretUri, parseSecretUri, type SecretSource } from '../../dag-repos/schema/secret-uri';
import { VaultClient, VaultError, vaultSettingsFromEnv } from '../../plugins/vault/vault-client';

/**
 * Secret references are resolved inside activities, so only the reference travels through workflow
 * history. Only references the DAG author wrote are resolved (the compiler lists them per task):
 * a value rendered from a param, a webhook payload or an upstream output is text, whatever it reads.
 */

export const SECRET_NOT_FOUND = 'SecretNotFound' satisfies FailureType;
/** Temporary failure reaching a secret store (Vault down, sealed, 5xx); retried under the task's retry policy. */
export const SECRET_STORE_UNAVAILABLE = 'SecretStoreUnavailable' satisfies FailureType;
/** The reference names a store this worker has no settings for (VAULT_ADDR unset); not retried. */
export const SECRET_STORE_NOT_CONFIGURED = 'SecretStoreNotConfigured' satisfies FailureType;
/** The plan names a reference the grammar refuses (unknown source, malformed); not retried, never passed on as text. */
export const SECRET_REFERENCE_INVALID = 'SecretReferenceInvalid' satisfies FailureType;

function failure(type: FailureType, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, nonRetryable: type !== SECRET_STORE_UNAVAILABLE, message });
}

/** Resolves references one after another, sharing one Vault client (one AppRole login). */
class SecretResolver {
  private vault: VaultClient | undefined;

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  async resolve(ref: string): Promise<string> {
    if (typeof ref !== 'string') throw failure(SECRET_REFERENCE_INVALID, `a secret reference must be a string, got ${typeof ref}`);
    const parsed = parseSecretUri(ref);
    // Messages quote the reference only as far as it is printable and short; it is the author's text, never a value.
    if (!parsed.ok) throw failure(SECRET_REFERENCE_INVALID, `${JSON.stringify(ref.slice(0, 120))}: ${parsed.problem}`);
    return this.read(parsed.secret);
  }

  private async read(secret: SecretSource): Promise<string> {
    const where = formatSecretUri(secret);
    switch (secret.source) {
      case 'env': {
        const value = this.env[secret.name];
        if (value === undefined || value === '') throw failure(SECRET_NOT_FOUND, `${where}: environment variable ${secret.name} is not set on the worker`);
        return value;
      }
      case 'file':
        try {
          return readFileSync(secret.path, 'utf8').replace(/\r?\n$/, '');
        } catch (error) {
          throw failure(SECRET_NOT_FOUND, `${where}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
        }
      case 'vault':
        try {
          return await this.vaultClient(where).read(secret);
        } catch (error) {
          if (!(error instanceof VaultError)) throw error;
          throw failure(error.transient ? SECRET_STORE_UNAVAILABLE : SECRET_NOT_FOUND, error.message);
        }
      default: {
        const never: never = secret;
        throw failure(SECRET_REFERENCE_INVALID, `unknown secret source in ${JSON.stringify(never)}`);
      }
    }
  }

  private vaultClient(where: string): VaultClient {
    if (this.vault !== undefined) return this.vault;
    const settings = vaultSettingsFromEnv(this.env);
    if (settings === undefined) throw failure(SECRET_STORE_NOT_CONFIGURED, `${where}: Vault is not configured on this worker (VAULT_ADDR is not set); set VAULT_ADDR and VAULT_TOKEN (or VAULT_ROLE_ID and VAULT_SECRET_ID) in the worker's environment`);
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
    // Something that does not even claim to be a reference names no secret; one that claims to be and
    // that the grammar refuses (an unknown source, a malformed Vault path) fails the task in resolve,
    // wherever it stands: it is never handed on as text.
    if (!claimsSecretUri(ref)) continue;
    if (parseSecretUri(ref).ok && valueAt(current, path) !== ref) continue;
    const secret = await resolver.resolve(ref);
    secrets.push(secret);
    current = withValueAt(current, path, secret);
  }
  return { value: current as T, secrets };
}

/** One value written by the DAG author outside tasks (a `notify:` channel URL): resolved when it is a reference. */
export async function resolveAuthorValue(value: string, env: NodeJS.ProcessEnv = process.env): Promise<{ value: string; secret?: string }> {
  if (!claimsSecretUri(value)) return { value };
  const secret = await new SecretResolver(env).resolve(value);
  return { value: secret, secret };
}
