/**
 * HashiCorp Vault KV v2 reader for `secret://vault/<mount>/<path>#<key>` references, over plain HTTP(S)
 * with fetch. Auth: VAULT_TOKEN, or AppRole (VAULT_ROLE_ID + VAULT_SECRET_ID, login at
 * VAULT_APPROLE_MOUNT, default "approle"). VAULT_NAMESPACE is sent when set (Vault Enterprise / HCP).
 */

export class VaultError extends Error {
  override readonly name = 'VaultError';
  constructor(
    message: string,
    /** True when retrying could help (Vault down, 5xx). */
    readonly transient: boolean,
  ) {
    super(message);
  }
}

export interface VaultSettings {
  address: string;
  token?: string;
  roleId?: string;
  secretId?: string;
  approleMount: string;
  namespace?: string;
  timeoutMs: number;
}

/** Settings from the worker's environment; undefined when VAULT_ADDR is not set. */
export function vaultSettingsFromEnv(env: NodeJS.ProcessEnv): VaultSettings | undefined {
  const address = env.VAULT_ADDR;
  if (address === undefined || address === '') return undefined;
  return {
    address: address.replace(/\/+$/, ''),
    ...(env.VAULT_TOKEN ? { token: env.VAULT_TOKEN } : {}),
    ...(env.VAULT_ROLE_ID ? { roleId: env.VAULT_ROLE_ID } : {}),
    ...(env.VAULT_SECRET_ID ? { secretId: env.VAULT_SECRET_ID } : {}),
    approleMount: env.VAULT_APPROLE_MOUNT ?? 'approle',
    ...(env.VAULT_NAMESPACE ? { namespace: env.VAULT_NAMESPACE } : {}),
    timeoutMs: 10_000,
  };
}

/** A parsed reference (`secret://vault/secret/hypervisors/h1#root_password`); dag-repos/schema/secret-uri.ts parses it. */
export interface VaultRef {
  mount: string;
  path: string;
  key: string;
}

/** Each segment encoded, so no character of a reference can change which endpoint is asked. */
const encodePath = (text: string): string => text.split('/').map(encodeURIComponent).join('/');

/** Reads KV v2 secrets; one AppRole login per client, reused until it expires. */
export class VaultClient {
  private token: { value: string; expiresAt: number } | undefined;

  constructor(private readonly settings: VaultSettings) {}

  async read(ref: VaultRef): Promise<string> {
    const where = `secret://vault/${ref.mount}/${ref.path}#${ref.key}`;
    const body = await this.request('GET', `/v1/${encodePath(ref.mount)}/data/${encodePath(ref.path)}`, undefined, await this.authToken(), where);
    const data = (body as { data?: { data?: Record<string, unknown> } }).data?.data;
    if (data === undefined) throw new VaultError(`${where}: Vault answered without a KV v2 data block (is ${ref.mount} a KV v2 mount?)`, false);
    const value = data[ref.key];
    if (value === undefined) throw new VaultError(`${where}: key "${ref.key}" not in secret (keys: ${Object.keys(data).join(', ') || 'none'})`, false);
    return typeof value === 'string' ? value : JSON.stringify(value);
  }

  private async authToken(): Promise<string> {
    if (this.settings.token !== undefined) return this.settings.token;
    if (this.token !== undefined && this.token.expiresAt > Date.now()) return this.token.value;
    if (this.settings.roleId === undefined || this.settings.secretId === undefined) {
      throw new VaultError('Vault: set VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID for AppRole, on the worker', false);
    }
    const body = await this.request('POST', `/v1/auth/${encodePath(this.settings.approleMount)}/login`, { role_id: this.settings.roleId, secret_id: this.settings.secretId }, undefined, 'AppRole login');
    const auth = (body as { auth?: { client_token?: string; lease_duration?: number } }).auth;
    if (auth?.client_token === undefined) throw new VaultError('Vault AppRole login returned no client_token', false);
    // Renew a little early so a token never expires mid-request.
    this.token = { value: auth.client_token, expiresAt: Date.now() + Math.max(0, (auth.lease_duration ?? 60) - 10) * 1000 };
    return auth.client_token;
  }

  private async request(method: string, urlPath: string, payload: unknown, token: string | undefined, what: string): Promise<unknown> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token !== undefined) headers['x-vault-token'] = token;
    if (this.settings.namespace !== undefined) headers['x-vault-namespace'] = this.settings.namespace;
    if (payload !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.settings.address}${urlPath}`, {
        method,
        headers,
        ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
        signal: AbortSignal.timeout(this.settings.timeoutMs),
      });
    } catch (error) {
      throw new VaultError(`${what}: cannot reach Vault at ${this.settings.address}: ${(error as Error).message}`, true);
    }
    const text = await response.text();
    if (!response.ok) {
      const errors = safeJson(text) as { errors?: string[] } | undefined;
      const reason = errors?.errors?.join('; ') || text.slice(0, 200) || response.statusText;
      const hint = response.status === 404 ? 'not found' : response.status === 403 ? 'permission denied' : `HTTP ${response.status}`;
      throw new VaultError(`${what}: ${hint}${reason ? ` (${reason})` : ''}`, response.status >= 500 || response.status === 429);
    }
    return safeJson(text) ?? {};
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
