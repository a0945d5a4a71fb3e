import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Boundary stand-in for HashiCorp Vault: no Vault (or OpenBao) server can be installed on this
 * machine, so a local HTTP server answers the two endpoints the vault plugin uses, with Vault's
 * documented shapes: POST /v1/auth/<mount>/login (AppRole) and GET /v1/<mount>/data/<path> (KV v2).
 * Everything else in a test (engine, worker, activities, tools) is real.
 */
export interface VaultStandIn {
  /** `http://127.0.0.1:PORT`, for VAULT_ADDR. */
  address: string;
  /** A token the stand-in accepts, for VAULT_TOKEN. */
  token: string;
  /** KV v2 data by `<mount>/<path>`; tests may change it between runs. */
  secrets: Record<string, Record<string, unknown>>;
  /** How many secret reads arrived (logins excluded). */
  reads(): number;
  /** Answers the next `count` requests with 503 "Vault is sealed", as a sealed Vault does. */
  sealFor(count: number): void;
  close(): Promise<void>;
}

export interface VaultStandInOptions {
  token?: string;
  secrets?: Record<string, Record<string, unknown>>;
  /** AppRole credentials the login endpoint accepts, and the token it issues. */
  approle?: { roleId: string; secretId: string; token: string };
}

async function jsonBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of request) text += String(chunk);
  try {
    return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    return {};
  }
}

export async function startVaultStandIn(options: VaultStandInOptions = {}): Promise<VaultStandIn> {
  const token = options.token ?? 'hvs.stand-in-root-token';
  const secrets = options.secrets ?? {};
  let reads = 0;
  let sealed = 0;
  const server: Server = createServer((request, response) => {
    const reply = (status: number, payload: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(payload));
    };
    void (async () => {
      if (sealed > 0) {
        sealed -= 1;
        return reply(503, { errors: ['Vault is sealed'] });
      }
      const approle = options.approle;
      if (request.method === 'POST' && /^\/v1\/auth\/[^/]+\/login$/.test(request.url ?? '')) {
        const { role_id: roleId, secret_id: secretId } = await jsonBody(request);
        return approle !== undefined && roleId === approle.roleId && secretId === approle.secretId
          ? reply(200, { auth: { client_token: approle.token, lease_duration: 3600 } })
          : reply(400, { errors: ['invalid role or secret ID'] });
      }
      const given = request.headers['x-vault-token'];
      if (given !== token && (approle === undefined || given !== approle.token)) return reply(403, { errors: ['permission denied'] });
      const match = request.method === 'GET' ? /^\/v1\/([^/]+)\/data\/(.+)$/.exec(request.url ?? '') : null;
      const data = match ? secrets[`${match[1] ?? ''}/${decodeURIComponent(match[2] ?? '')}`] : undefined;
      if (data === undefined) return reply(404, { errors: [] });
      reads += 1;
      return reply(200, { data: { data, metadata: { version: 1 } } });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token,
    secrets,
    reads: () => reads,
    sealFor(count) {
      sealed = count;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
