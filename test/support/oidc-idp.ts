import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A person the identity provider knows; `disabled` makes it refuse them from then on (sign-in and refresh). */
export interface IdpAccount {
  roles: string[];
  disabled?: boolean;
}

export interface TestIdp {
  issuer: string;
  jwksUrl: string;
  /** Mutable: tests change roles or disable an account, as an administrator of the provider would. */
  accounts: Map<string, IdpAccount>;
  /** Requests the provider served, by path (discovery, auth, token, jwks…). */
  served: string[];
  close(): Promise<void>;
}

/**
 * A real OpenID Connect provider (the oidc-provider package, certified by the OpenID Foundation) on
 * loopback, with its development sign-in form (any password; the login name picks the account) and no
 * consent step for the one client. Its ID tokens carry preferred_username and roles.
 */
export async function startTestIdp(client: { clientId: string; clientSecret: string; redirectUri: string }, idTokenTtlSeconds = 600): Promise<TestIdp> {
  const { default: Provider } = await import('oidc-provider');
  const accounts = new Map<string, IdpAccount>();
  const served: string[] = [];
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [{ client_id: client.clientId, client_secret: client.clientSecret, redirect_uris: [client.redirectUri], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' }],
    claims: { openid: ['sub'], profile: ['preferred_username', 'roles'] },
    conformIdTokenClaims: false,
    cookies: { keys: ['oidc-test-cookie-key-0123456789abcdef'] },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    ttl: { IdToken: idTokenTtlSeconds, AccessToken: idTokenTtlSeconds, RefreshToken: 86_400, Interaction: 600, Session: 3600, Grant: 86_400, AuthorizationCode: 60 },
    issueRefreshToken: async (_ctx, refreshClient) => refreshClient.grantTypeAllowed('refresh_token'),
    // The one client is first-party: its grant is made at sign-in instead of asking for consent.
    loadExistingGrant: async (ctx) => {
      const existing = ctx.oidc.session?.grantIdFor(ctx.oidc.client?.clientId ?? '');
      if (existing) return ctx.oidc.provider.Grant.find(existing);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client?.clientId ?? '', accountId: ctx.oidc.session?.accountId ?? '' });
      grant.addOIDCScope('openid profile');
      grant.addOIDCClaims(['preferred_username', 'roles']);
      await grant.save();
      return grant;
    },
    findAccount: async (_ctx, id) => {
      const account = accounts.get(id);
      if (!account || account.disabled) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, preferred_username: id, roles: [...account.roles] }) };
    },
  });
  provider.on('server_error', (_ctx, error) => console.error('test identity provider:', error));
  const callback = provider.callback();
  server.on('request', (request, response) => {
    served.push(new URL(request.url ?? '/', issuer).pathname);
    void callback(request, response);
  });
  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    accounts,
    served,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The environment of an API whose browsers sign in at `idp` (recheck every second, so tests see a
 * change at the provider quickly); an override of undefined removes that key.
 */
export function oidcLoginEnv(idp: TestIdp, login: { publicUrl: string; clientId: string; secretFile: string; providerName: string }, overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    QUBINODE_PUBLIC_URL: login.publicUrl,
    QUBINODE_OIDC_ISSUER: idp.issuer,
    QUBINODE_OIDC_AUDIENCE: 'qubinode-api',
    QUBINODE_OIDC_JWKS_URL: idp.jwksUrl,
    QUBINODE_OIDC_CLIENT_ID: login.clientId,
    QUBINODE_OIDC_CLIENT_SECRET_FILE: login.secretFile,
    QUBINODE_OIDC_PROVIDER_NAME: login.providerName,
    QUBINODE_OIDC_SESSION_RECHECK_SECONDS: '1',
  };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}
