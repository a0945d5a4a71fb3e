import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type JWTPayload, type KeyLike } from 'jose';
import { createIdTokenVerifier, oidcKeys, OidcRefusedError } from '../api/oidc';
import { buildApiServer } from '../api/server';
import { ConfigError, loadConfig } from '../config/config';
import { createLogger } from '../config/logger';
import { ActionRegistry } from '../dag-repos/actions/registry';

const ISSUER = 'https://idp.example.test/realms/ops';
const AUDIENCE = 'qubinode-api';
const BOOTSTRAP = 'oidc-test-bootstrap-token-0123456789';

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('OIDC/JWT callers', () => {
  let jwks: Server;
  let jwksUrl: string;
  let signingKey: KeyLike;
  let publicKey: KeyLike;
  let strangerKey: KeyLike;
  let api: ReturnType<typeof buildApiServer>;
  let nested: ReturnType<typeof buildApiServer>;
  const client = new Client({ connection: Connection.lazy({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' }), namespace: process.env.TEMPORAL_NAMESPACE ?? 'default' });

  const sign = (claims: JWTPayload, options: { key?: KeyLike; kid?: string; expiresIn?: string | number; issuer?: string; audience?: string } = {}): Promise<string> =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? 'k1' })
      .setIssuer(options.issuer ?? ISSUER)
      .setAudience(options.audience ?? AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(options.expiresIn ?? '5m')
      .sign(options.key ?? signingKey);

  const whoami = async (server: ReturnType<typeof buildApiServer>, token: string) => {
    const answer = await server.inject({ method: 'GET', url: '/api/whoami', headers: { authorization: `Bearer ${token}` } });
    return { status: answer.statusCode, body: answer.json() as unknown };
  };

  const serverWith = (env: Record<string, string>) =>
    buildApiServer({ config: loadConfig({ ...process.env, QUBINODE_OIDC_ISSUER: ISSUER, QUBINODE_OIDC_AUDIENCE: AUDIENCE, QUBINODE_OIDC_JWKS_URL: jwksUrl, ...env }), logger: createLogger('error', 'oidc-test'), client, registry: new ActionRegistry(), token: BOOTSTRAP });

  before(async () => {
    ({ privateKey: signingKey, publicKey } = await generateKeyPair('RS256'));
    ({ privateKey: strangerKey } = await generateKeyPair('RS256'));
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    // A real JWKS endpoint on loopback, as an identity provider serves it.
    jwks = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/certs`;
    api = serverWith({});
    nested = serverWith({ QUBINODE_OIDC_ROLES_CLAIM: 'realm_access.roles', QUBINODE_OIDC_ROLE_PREFIX: 'qubinode-', QUBINODE_OIDC_USERNAME_CLAIM: 'email' });
  });
  after(async () => {
    await api.close();
    await nested.close();
    jwks.close();
    await client.connection.close();
  });

  it('accepts a valid token as its user with the roles of its claim', async () => {
    const token = await sign({ preferred_username: 'olivia', roles: ['operator', 'approver', 'superuser'] });
    assert.deepEqual(await whoami(api, token), { status: 200, body: { user: 'olivia', roles: ['operator', 'approver'], via: 'oidc' } });
  });

  it('reads roles from a nested claim with a prefix, and the user from another claim', async () => {
    const token = await sign({ email: 'pat@example.test', preferred_username: 'not-this', realm_access: { roles: ['qubinode-admin', 'admin', 'offline_access'] } });
    assert.deepEqual(await whoami(nested, token), { status: 200, body: { user: 'pat@example.test', roles: ['admin'], via: 'oidc' } });
  });

  it('refuses expired tokens, wrong audience or issuer, unknown key ids and keys not in the set', async () => {
    const refused = {
      expired: await sign({ preferred_username: 'olivia', roles: ['admin'] }, { expiresIn: Math.floor(Date.now() / 1000) - 120 }),
      'wrong audience': await sign({ preferred_username: 'olivia', roles: ['admin'] }, { audience: 'another-api' }),
      'wrong issuer': await sign({ preferred_username: 'olivia', roles: ['admin'] }, { issuer: 'https://evil.example.test' }),
      'unknown kid': await sign({ preferred_username: 'olivia', roles: ['admin'] }, { kid: 'k2', key: strangerKey }),
      'known kid, other key': await sign({ preferred_username: 'olivia', roles: ['admin'] }, { key: strangerKey }),
      'no username': await sign({ roles: ['admin'] }),
      'username with a newline': await sign({ preferred_username: 'olivia\nadmin', roles: ['admin'] }),
      'no expiry': await new SignJWT({ preferred_username: 'olivia', roles: ['admin'] }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISSUER).setAudience(AUDIENCE).setIssuedAt().sign(signingKey),
    };
    for (const [why, token] of Object.entries(refused)) {
      const answer = await whoami(api, token);
      assert.equal(answer.status, 401, `${why} was accepted: ${JSON.stringify(answer.body)}`);
      assert.deepEqual(answer.body, { error: 'missing or invalid bearer token' });
    }
  });

  it("refuses an unsigned token (alg none) and an HS256 token keyed with the provider's public key", async () => {
    const claims = { iss: ISSUER, aud: AUDIENCE, preferred_username: 'olivia', roles: ['admin'], exp: Math.floor(Date.now() / 1000) + 300 };
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    assert.equal((await whoami(api, unsigned)).status, 401);
    // Algorithm confusion: the public key, public to anyone, used as an HMAC secret.
    const pem = await exportSPKI(publicKey);
    const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(new TextEncoder().encode(pem));
    assert.equal((await whoami(api, confused)).status, 401);
  });

  it('checks an ID token of the browser sign-in against the web client id and the nonce its sign-in sent', async () => {
    const settings = { issuer: ISSUER, audience: AUDIENCE, jwksUrl, rolesClaim: 'roles', usernameClaim: 'preferred_username', rolePrefix: '' };
    const verify = createIdTokenVerifier(settings, 'qubinode-ui', oidcKeys(settings));
    const idToken = await sign({ preferred_username: 'olivia', roles: ['viewer'], nonce: 'nonce-1' }, { audience: 'qubinode-ui' });
    assert.deepEqual({ ...(await verify(idToken, 'nonce-1')), expiresAt: 0 }, { user: 'olivia', roles: ['viewer'], expiresAt: 0 });
    await assert.rejects(verify(idToken, 'nonce-2'), OidcRefusedError, 'another sign-in\'s nonce');
    await assert.rejects(verify(await sign({ preferred_username: 'olivia', nonce: 'nonce-1' }), 'nonce-1'), OidcRefusedError, 'a token for the API is not an ID token of the web client');
    assert.equal((await whoami(api, idToken)).status, 401, 'an ID token of the web client is no bearer token for the API');
  });

  it('lets a token that names no Qubinode role authenticate but pass no route', async () => {
    for (const claims of [{ preferred_username: 'quinn' }, { preferred_username: 'quinn', roles: ['root', 'Admin'] }, { preferred_username: 'quinn', roles: 'viewer-ish' }]) {
      const token = await sign(claims);
      const answer = await whoami(api, token);
      assert.equal(answer.status, 403, JSON.stringify(claims));
      assert.equal((await api.inject({ method: 'GET', url: '/api/dags', headers: { authorization: `Bearer ${token}` } })).statusCode, 403);
    }
  });

  it('ignores identity-provider tokens when no provider is configured', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('QUBINODE_OIDC_')));
    const plain = buildApiServer({ config: loadConfig(env), logger: createLogger('error', 'oidc-test'), client, registry: new ActionRegistry(), token: BOOTSTRAP });
    try {
      assert.equal((await whoami(plain, await sign({ preferred_username: 'olivia', roles: ['admin'] }))).status, 401);
    } finally {
      await plain.close();
    }
  });

  it('refuses at start-up a half-configured provider or keys fetched over plain http from another host', () => {
    assert.throws(() => loadConfig({ QUBINODE_OIDC_ISSUER: ISSUER, QUBINODE_OIDC_JWKS_URL: jwksUrl }), (error: Error) => error instanceof ConfigError && /must be set together/.test(error.message));
    assert.throws(() => loadConfig({ QUBINODE_OIDC_ISSUER: ISSUER, QUBINODE_OIDC_AUDIENCE: AUDIENCE, QUBINODE_OIDC_JWKS_URL: 'http://idp.example.test/certs' }), /must be https/);
    assert.throws(() => loadConfig({ QUBINODE_OIDC_ISSUER: ISSUER, QUBINODE_OIDC_AUDIENCE: AUDIENCE, QUBINODE_OIDC_JWKS_URL: 'not a url' }), ConfigError);
  });
});
