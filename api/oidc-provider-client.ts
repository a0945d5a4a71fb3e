import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../config/config-error';
import { isTrustedProviderUrl, type OidcLoginSettings } from '../config/oidc-config';

/** The provider did not answer, or answered something unusable; the message names which step, never a token. */
export class OidcProviderError extends Error {
  override readonly name = 'OidcProviderError';
}

/** The provider refused a grant (`invalid_grant` and the like): the code or the refresh token is no good. */
export class OidcGrantRefusedError extends Error {
  override readonly name = 'OidcGrantRefusedError';
}

const PROVIDER_TIMEOUT_MS = 10_000;
/** How long the discovery document is trusted before it is read again. */
const DISCOVERY_TTL_MS = 60 * 60 * 1000;
/** The provider's answers are small; anything larger is refused unread. */
const ANSWER_MAX_BYTES = 256 * 1024;

const providerUrl = z
  .string()
  .url()
  .refine((text) => isTrustedProviderUrl(new URL(text)), 'must be https (plain http only on the loopback address)');

const Discovery = z.object({ issuer: z.string(), authorization_endpoint: providerUrl, token_endpoint: providerUrl }).passthrough();
type Discovery = z.infer<typeof Discovery>;

const TokenAnswer = z.object({ id_token: z.string().min(1).max(16_384).optional(), refresh_token: z.string().min(1).max(16_384).optional() }).passthrough();
/** The tokens a grant gave: an ID token always (the sign-in needs one), a refresh token when the provider issues them. */
export interface GrantedTokens {
  idToken: string;
  refreshToken?: string;
}

const ErrorAnswer = z.object({ error: z.string().regex(/^[\x20-\x7e]{1,100}$/) }).passthrough();

/** What the browser's round trip through the provider needs: PKCE verifier and challenge, state and nonce, made by the caller. */
export interface AuthorizationRequest {
  state: string;
  nonce: string;
  codeChallenge: string;
}

/**
 * Talks to the identity provider for the browser sign-in: discovery (under the configured issuer, whose
 * `issuer` must match it exactly), the authorization URL, the code exchange and refresh. The client
 * secret is read once, at start-up, and sent only in the Authorization header of token requests.
 */
export class OidcProviderClient {
  private discovery?: { document: Discovery; readAt: number };
  private readonly clientSecret?: string;

  constructor(
    private readonly issuer: string,
    private readonly login: OidcLoginSettings,
    private readonly now: () => number = Date.now,
  ) {
    if (login.clientSecretFile) {
      let secret;
      try {
        secret = readFileSync(login.clientSecretFile, 'utf8').trim();
      } catch (error) {
        throw new ConfigError(`QUBINODE_OIDC_CLIENT_SECRET_FILE: cannot read ${login.clientSecretFile}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      if (!/^[\x21-\x7e]{8,1024}$/.test(secret)) throw new ConfigError(`QUBINODE_OIDC_CLIENT_SECRET_FILE: ${login.clientSecretFile} must hold one line of 8 to 1024 printable characters`);
      this.clientSecret = secret;
    }
  }

  get providerName(): string {
    return this.login.providerName;
  }

  /** Where to send the browser to sign in. */
  async authorizationUrl(request: AuthorizationRequest): Promise<string> {
    const { authorization_endpoint } = await this.document();
    const url = new URL(authorization_endpoint);
    const params = { response_type: 'code', client_id: this.login.clientId, redirect_uri: this.login.redirectUri, scope: this.login.scopes, state: request.state, nonce: request.nonce, code_challenge: request.codeChallenge, code_challenge_method: 'S256' };
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    return url.href;
  }

  /** Trades the code the browser brought back (with this sign-in's PKCE verifier) for tokens. */
  exchangeCode(code: string, codeVerifier: string): Promise<GrantedTokens> {
    return this.grant({ grant_type: 'authorization_code', code, redirect_uri: this.login.redirectUri, code_verifier: codeVerifier }, 'code exchange');
  }

  /** New tokens for a session: the provider says again whether the user may still sign in. */
  refresh(refreshToken: string): Promise<GrantedTokens> {
    return this.grant({ grant_type: 'refresh_token', refresh_token: refreshToken, scope: this.login.scopes }, 'refresh');
  }

  private async grant(fields: Record<string, string>, step: string): Promise<GrantedTokens> {
    const { token_endpoint } = await this.document();
    const body = new URLSearchParams({ ...fields, client_id: this.login.clientId });
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
    if (this.clientSecret) {
      // client_secret_basic: both parts form-encoded before base64 (RFC 6749 2.3.1).
      const encode = (text: string): string => encodeURIComponent(text).replace(/%20/g, '+');
      headers.authorization = `Basic ${Buffer.from(`${encode(this.login.clientId)}:${encode(this.clientSecret)}`).toString('base64')}`;
    }
    const { status, json } = await this.request(token_endpoint, { method: 'POST', headers, body: body.toString() }, step);
    if (status === 400 || status === 401) {
      const refusal = ErrorAnswer.safeParse(json);
      throw new OidcGrantRefusedError(`the identity provider refused the ${step}: ${refusal.success ? refusal.data.error : `HTTP ${status}`}`);
    }
    if (status !== 200) throw new OidcProviderError(`the identity provider's ${step} answered HTTP ${status}`);
    const tokens = TokenAnswer.safeParse(json);
    if (!tokens.success || !tokens.data.id_token) throw new OidcProviderError(`the identity provider's ${step} gave no ID token`);
    return { idToken: tokens.data.id_token, ...(tokens.data.refresh_token ? { refreshToken: tokens.data.refresh_token } : {}) };
  }

  private async document(): Promise<Discovery> {
    if (this.discovery && this.now() - this.discovery.readAt < DISCOVERY_TTL_MS) return this.discovery.document;
    const where = `${this.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const { status, json } = await this.request(where, { headers: { accept: 'application/json' } }, 'discovery');
    if (status !== 200) throw new OidcProviderError(`the identity provider's discovery document answered HTTP ${status}`);
    const parsed = Discovery.safeParse(json);
    if (!parsed.success) throw new OidcProviderError(`the identity provider's discovery document is unusable: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
    // A document naming another issuer would hand out endpoints that are not the configured provider's.
    if (parsed.data.issuer !== this.issuer) throw new OidcProviderError('the identity provider\'s discovery document names another issuer than QUBINODE_OIDC_ISSUER');
    this.discovery = { document: parsed.data, readAt: this.now() };
    return parsed.data;
  }

  private async request(url: string, init: RequestInit, step: string): Promise<{ status: number; json: unknown }> {
    let response: Response;
    try {
      response = await fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(PROVIDER_TIMEOUT_MS) });
    } catch (error) {
      throw new OidcProviderError(`the identity provider's ${step} could not be reached: ${(error as Error).name}`);
    }
    if (Number(response.headers.get('content-length') ?? 0) > ANSWER_MAX_BYTES) {
      await response.body?.cancel();
      throw new OidcProviderError(`the identity provider's ${step} answer is over ${ANSWER_MAX_BYTES} bytes`);
    }
    const text = await response.text();
    if (text.length > ANSWER_MAX_BYTES) throw new OidcProviderError(`the identity provider's ${step} answer is over ${ANSWER_MAX_BYTES} bytes`);
    try {
      return { status: response.status, json: JSON.parse(text) as unknown };
    } catch {
      return { status: response.status, json: undefined };
    }
  }
}
