import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { resolveSecretRefsAt } from '../../activities/process/secret-refs';
import { collectSecretRefs } from '../../dag-repos/compiler/secret-references';

/** Resolves every reference in a value written as a DAG author would write it. */
const resolveSecretRefsAsync = <T>(value: T, env: NodeJS.ProcessEnv) => resolveSecretRefsAt(value, collectSecretRefs(value), env);

/**
 * Boundary stand-in (test/support/vault-stand-in.ts is the same for engine tests): no Vault server binary can be installed on this machine, so a local HTTP server
 * answers the two Vault endpoints the plugin uses, with Vault's documented shapes:
 * POST /v1/auth/<mount>/login (AppRole) and GET /v1/<mount>/data/<path> (KV v2).
 */
const TOKEN = 'hvs.test-root-token';
const APPROLE_TOKEN = 'hvs.approle-issued';
const secrets: Record<string, Record<string, unknown>> = {
  'hypervisors/h1': { root_password: 's3cr3t-h1', port: 22 },
};
let server: Server;
let address: string;
let logins = 0;
let failNext = false;

async function body(request: IncomingMessage): Promise<Record<string, unknown>> {
  let text = '';
  for await (const chunk of request) text += String(chunk);
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

before(async () => {
  server = createServer((request, response) => {
    const reply = (status: number, payload: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(payload));
    };
    void (async () => {
      if (failNext) {
        failNext = false;
        return reply(503, { errors: ['Vault is sealed'] });
      }
      if (request.method === 'POST' && request.url === '/v1/auth/approle/login') {
        const { role_id: roleId, secret_id: secretId } = await body(request);
        logins += 1;
        return roleId === 'role-1' && secretId === 'secret-1' ? reply(200, { auth: { client_token: APPROLE_TOKEN, lease_duration: 3600 } }) : reply(400, { errors: ['invalid role or secret ID'] });
      }
      const token = request.headers['x-vault-token'];
      if (token !== TOKEN && token !== APPROLE_TOKEN) return reply(403, { errors: ['permission denied'] });
      const match = /^\/v1\/secret\/data\/(.+)$/.exec(request.url ?? '');
      const data = match ? secrets[match[1] ?? ''] : undefined;
      if (data === undefined) return reply(404, { errors: [] });
      return reply(200, { data: { data, metadata: { version: 3 } } });
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  address = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.close();
});

const failure = (type: string, pattern: RegExp, nonRetryable = true) => (error: unknown): boolean => {
  assert.ok(error instanceof ApplicationFailure, String(error));
  assert.equal(error.type, type);
  assert.equal(error.nonRetryable, nonRetryable);
  assert.match(error.message, pattern);
  return true;
};

describe('secret://vault references', () => {
  it('resolves KV v2 values with a token, next to env references, and returns them for redaction', async () => {
    const env = { VAULT_ADDR: address, VAULT_TOKEN: TOKEN, OTHER: 'from-env' };
    const { value, secrets: found } = await resolveSecretRefsAsync({ a: 'secret://vault/secret/hypervisors/h1#root_password', b: ['secret://vault/secret/hypervisors/h1#port'], c: 'secret://env/OTHER', d: 'plain' }, env);
    assert.deepEqual(value, { a: 's3cr3t-h1', b: ['22'], c: 'from-env', d: 'plain' });
    assert.deepEqual(found.sort(), ['22', 'from-env', 's3cr3t-h1']);
  });

  it('logs in with AppRole once per resolution', async () => {
    const env = { VAULT_ADDR: address, VAULT_ROLE_ID: 'role-1', VAULT_SECRET_ID: 'secret-1' };
    const before = logins;
    const { value } = await resolveSecretRefsAsync(['secret://vault/secret/hypervisors/h1#root_password', 'secret://vault/secret/hypervisors/h1#port'], env);
    assert.deepEqual(value, ['s3cr3t-h1', '22']);
    assert.equal(logins - before, 1);
    await assert.rejects(resolveSecretRefsAsync('secret://vault/secret/hypervisors/h1#port', { ...env, VAULT_SECRET_ID: 'wrong' }), failure('SecretNotFound', /AppRole login: HTTP 400 \(invalid role or secret ID\)/));
  });

  it('names the missing key, path or permission without retrying', async () => {
    const env = { VAULT_ADDR: address, VAULT_TOKEN: TOKEN };
    await assert.rejects(resolveSecretRefsAsync('secret://vault/secret/hypervisors/h1#nope', env), failure('SecretNotFound', /key "nope" not in secret \(keys: root_password, port\)/));
    await assert.rejects(resolveSecretRefsAsync('secret://vault/secret/hypervisors/h9#x', env), failure('SecretNotFound', /h9#x: not found/));
    await assert.rejects(resolveSecretRefsAsync('secret://vault/secret/hypervisors/h1#x', { ...env, VAULT_TOKEN: 'bad' }), failure('SecretNotFound', /permission denied/));
  });

  it('fails without retrying, naming VAULT_ADDR, when the worker has no Vault settings', async () => {
    await assert.rejects(resolveSecretRefsAsync('secret://vault/secret/hypervisors/h1#x', {}), failure('SecretStoreNotConfigured', /secret:\/\/vault\/secret\/hypervisors\/h1#x: Vault is not configured on this worker \(VAULT_ADDR is not set\)/));
  });

  it('refuses a malformed reference that reached the worker instead of passing it on as text', async () => {
    const env = { VAULT_ADDR: address, VAULT_TOKEN: TOKEN };
    for (const ref of ['secret://vault/nokey', 'secret://vault/secret/../../sys/seal-status#x', 'secret://vault/secret/%2e%2e/x#k', 'secret://aws/x']) {
      await assert.rejects(resolveSecretRefsAt({ v: ref }, [{ path: ['v'], ref }], env), failure('SecretReferenceInvalid', /not a valid secret reference/));
    }
  });

  it('retries when Vault is unavailable', async () => {
    failNext = true;
    await assert.rejects(resolveSecretRefsAsync('secret://vault/secret/hypervisors/h1#port', { VAULT_ADDR: address, VAULT_TOKEN: TOKEN }), failure('SecretStoreUnavailable', /HTTP 503 \(Vault is sealed\)/, false));
    await assert.rejects(resolveSecretRefsAsync('secret://vault/secret/hypervisors/h1#port', { VAULT_ADDR: 'http://127.0.0.1:9', VAULT_TOKEN: TOKEN }), failure('SecretStoreUnavailable', /cannot reach Vault/, false));
  });

  it('leaves env and file references working as before', async () => {
    assert.deepEqual((await resolveSecretRefsAsync({ x: 'secret://env/X' }, { X: '1' })).value, { x: '1' });
  });
});
