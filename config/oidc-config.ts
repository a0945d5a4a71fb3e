import * as path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './config-error';

/** The identity-provider keys of the environment; config/config.ts spreads them into its schema. */
export const oidcEnvShape = {
  /** OIDC/JWT bearer tokens (all three or none): the issuer (iss), the audience (aud) and the JWKS URL holding its keys. */
  QUBINODE_OIDC_ISSUER: z.string().url().optional(),
  QUBINODE_OIDC_AUDIENCE: z.string().min(1).optional(),
  QUBINODE_OIDC_JWKS_URL: z.string().url().optional(),
  /** Claim holding the caller's roles (a dotted path such as realm_access.roles reaches nested claims). */
  QUBINODE_OIDC_ROLES_CLAIM: z.string().min(1).default('roles'),
  QUBINODE_OIDC_USERNAME_CLAIM: z.string().min(1).default('preferred_username'),
  /** A role claim value counts when it is `<prefix><role>`, e.g. prefix "qubinode-" for groups named qubinode-admin. */
  QUBINODE_OIDC_ROLE_PREFIX: z.string().default(''),
  /** Browser sign-in through the provider (authorization code with PKCE): the client registered for the web page. */
  QUBINODE_OIDC_CLIENT_ID: z.string().regex(/^[\x21-\x7e]{1,200}$/, 'printable ASCII without spaces, at most 200 characters').optional(),
  /** A file holding that client's secret (a confidential client); without it the client is public and PKCE alone binds the login. */
  QUBINODE_OIDC_CLIENT_SECRET_FILE: z.string().min(1).optional(),
  /** Scopes asked for at sign-in; `openid` is required, `offline_access` may be needed for a refresh token. */
  QUBINODE_OIDC_SCOPES: z
    .string()
    .default('openid profile')
    .refine((text) => /^[\x21-\x7e]+( [\x21-\x7e]+)*$/.test(text) && text.split(' ').includes('openid'), 'space-separated scope names, one of them openid'),
  /** How often a browser session signed in through the provider asks it again (refresh grant) whether the user may stay. */
  QUBINODE_OIDC_SESSION_RECHECK_SECONDS: z.coerce.number().int().min(1).max(3600).default(30),
  /** The sign-in button's label: "Sign in with <name>". */
  QUBINODE_OIDC_PROVIDER_NAME: z
    .string()
    .regex(/^[\p{L}\p{N} ._-]{1,40}$/u, 'letters, digits, spaces, ".", "_" or "-", at most 40')
    .default('single sign-on'),
};

type OidcEnv = z.infer<z.ZodObject<typeof oidcEnvShape>>;

/** Browser sign-in through the identity provider (docs/security.md, "Signing in with the identity provider"). */
export interface OidcLoginSettings {
  clientId: string;
  /** Read when the API starts, never by the CLI. */
  clientSecretFile?: string;
  scopes: string;
  providerName: string;
  /** How often a session asks the provider again (QUBINODE_OIDC_SESSION_RECHECK_SECONDS). */
  recheckMs: number;
  /** Where the provider sends the browser back: QUBINODE_PUBLIC_URL + /ui/session/oidc/callback. */
  redirectUri: string;
}

/** An identity provider whose signed JWTs the API accepts as bearer tokens (see docs/security.md). */
export interface OidcSettings {
  issuer: string;
  audience: string;
  jwksUrl: string;
  rolesClaim: string;
  usernameClaim: string;
  rolePrefix: string;
  login?: OidcLoginSettings;
}

export const OIDC_CALLBACK_PATH = '/ui/session/oidc/callback';

const LOOPBACK_HOSTS = ['127.0.0.1', '[::1]', 'localhost'];

/** https, or plain http to this machine's loopback only: what crosses the network from the provider must not be swappable. */
export function isTrustedProviderUrl(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.includes(url.hostname));
}

function invalid(line: string): ConfigError {
  return new ConfigError(`invalid environment:\n  ${line}`);
}

/** The provider settings, or undefined when none is configured; `publicOrigin` is QUBINODE_PUBLIC_URL. */
export function oidcSettings(e: OidcEnv, publicOrigin: string | undefined, projectRoot: string): OidcSettings | undefined {
  const given = [e.QUBINODE_OIDC_ISSUER, e.QUBINODE_OIDC_AUDIENCE, e.QUBINODE_OIDC_JWKS_URL].filter(Boolean).length;
  if (given === 0) {
    if (e.QUBINODE_OIDC_CLIENT_ID) throw invalid('QUBINODE_OIDC_CLIENT_ID needs QUBINODE_OIDC_ISSUER, QUBINODE_OIDC_AUDIENCE and QUBINODE_OIDC_JWKS_URL');
    return undefined;
  }
  if (given !== 3) throw invalid('QUBINODE_OIDC_ISSUER, QUBINODE_OIDC_AUDIENCE and QUBINODE_OIDC_JWKS_URL must be set together');
  const jwks = new URL(e.QUBINODE_OIDC_JWKS_URL as string);
  // Keys fetched over plain HTTP could be swapped on the way; only this machine's loopback is exempt.
  if (!isTrustedProviderUrl(jwks)) throw invalid('QUBINODE_OIDC_JWKS_URL: must be https (plain http only on the loopback address)');
  const issuer = e.QUBINODE_OIDC_ISSUER as string;
  const settings: OidcSettings = { issuer, audience: e.QUBINODE_OIDC_AUDIENCE as string, jwksUrl: jwks.href, rolesClaim: e.QUBINODE_OIDC_ROLES_CLAIM, usernameClaim: e.QUBINODE_OIDC_USERNAME_CLAIM, rolePrefix: e.QUBINODE_OIDC_ROLE_PREFIX };
  if (!e.QUBINODE_OIDC_CLIENT_ID) {
    if (e.QUBINODE_OIDC_CLIENT_SECRET_FILE) throw invalid('QUBINODE_OIDC_CLIENT_SECRET_FILE needs QUBINODE_OIDC_CLIENT_ID');
    return settings;
  }
  // Discovery and the code exchange go to URLs under the issuer: they must not be swappable either.
  if (!isTrustedProviderUrl(new URL(issuer))) throw invalid('QUBINODE_OIDC_ISSUER: browser sign-in needs an https issuer (plain http only on the loopback address)');
  // The redirect URI is registered with the provider; taking it from a request's Host header would let a caller choose it.
  if (!publicOrigin) throw invalid('QUBINODE_OIDC_CLIENT_ID needs QUBINODE_PUBLIC_URL: the provider sends browsers back to <QUBINODE_PUBLIC_URL>' + OIDC_CALLBACK_PATH);
  return {
    ...settings,
    login: {
      clientId: e.QUBINODE_OIDC_CLIENT_ID,
      ...(e.QUBINODE_OIDC_CLIENT_SECRET_FILE ? { clientSecretFile: path.resolve(projectRoot, e.QUBINODE_OIDC_CLIENT_SECRET_FILE) } : {}),
      scopes: e.QUBINODE_OIDC_SCOPES,
      providerName: e.QUBINODE_OIDC_PROVIDER_NAME,
      recheckMs: e.QUBINODE_OIDC_SESSION_RECHECK_SECONDS * 1000,
      redirectUri: `${publicOrigin}${OIDC_CALLBACK_PATH}`,
    },
  };
}
