import { readFileSync, statSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { z } from 'zod';
import type { RemoteApiSettings } from '../config/config';
import { zodProblems } from '../config/zod-problems';

/**
 * The Navigator API as seen from an operator's machine: one base URL, a personal bearer token,
 * answers checked with zod. Built on node:https rather than fetch because a control plane with its
 * own CA needs a per-request `ca`, which Node's fetch only takes through an extra package.
 */

/** Where the token comes from and why none was found. */
export class ApiTokenError extends Error {
  override readonly name = 'ApiTokenError';
}

/** The API answered with an error status; `message` is its own words, never the token. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** The API could not be reached at all (refused, unknown host, TLS failure, timeout). */
export class ApiUnreachableError extends Error {
  override readonly name = 'ApiUnreachableError';
}

/** The API answered 2xx with something that is not what this CLI expects (wrong server, other version). */
export class ApiAnswerError extends Error {
  override readonly name = 'ApiAnswerError';
}

/** Larger answers are refused rather than buffered: no listing of this API comes near it. */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024;
const TOKEN_SHAPE = /^[\x21-\x7e]{16,4096}$/;

/** The caller's token: QUBINODE_API_TOKEN, else the file named by QUBINODE_API_TOKEN_FILE. Never echoed. */
export function loadApiToken(settings: RemoteApiSettings, envToken: string | undefined): string {
  let token = envToken;
  if (!token && settings.tokenFile) {
    try {
      // Like an SSH key: a token others on this machine can read is no longer only its owner's.
      if ((statSync(settings.tokenFile).mode & 0o077) !== 0) throw new ApiTokenError(`QUBINODE_API_TOKEN_FILE ${settings.tokenFile}: readable by others; chmod 600 it`);
      token = readFileSync(settings.tokenFile, 'utf8').trim();
    } catch (error) {
      if (error instanceof ApiTokenError) throw error;
      throw new ApiTokenError(`QUBINODE_API_TOKEN_FILE ${settings.tokenFile}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
    }
  }
  if (!token) throw new ApiTokenError('QUBINODE_API_URL is set but no token is: set QUBINODE_API_TOKEN or QUBINODE_API_TOKEN_FILE (issued with `qubinode token issue`)');
  // A token with blanks or control characters would break (or smuggle) the Authorization header.
  if (!TOKEN_SHAPE.test(token)) throw new ApiTokenError('the API token must be 16 to 4096 printable characters without blanks');
  return token;
}

/** The error body every route answers with: `{ error, problems? , requestId? }`. */
const ErrorBody = z.looseObject({ error: z.string().max(4000), problems: z.array(z.unknown()).max(200).optional(), diagnostics: z.array(z.unknown()).max(200).optional(), requestId: z.string().max(100).optional() });

/** One line per problem: plain strings as they are, `{param, message}` and DAG diagnostics in the CLI's own form. */
function problemLine(problem: unknown): string {
  if (typeof problem === 'string') return problem;
  const fields = problem !== null && typeof problem === 'object' ? (problem as Record<string, unknown>) : {};
  if (typeof fields.message !== 'string') return JSON.stringify(problem);
  const where = typeof fields.file === 'string' ? `${fields.file}:${String(fields.line)}:${String(fields.column)}${fields.path ? ` ${String(fields.path)}` : ''}` : typeof fields.param === 'string' ? fields.param : '';
  return where ? `${where}: ${fields.message}` : fields.message;
}

export type Query = Record<string, string | number | undefined>;

export interface ApiCall {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path segments after the base URL; each is percent-encoded on its own, so a value never adds a segment. */
  path: readonly string[];
  query?: Query;
  body?: unknown;
  /** Ceiling for slow actions (a rollback or a sync waits for its result on the server). */
  timeoutMs?: number;
}

/** One segment, encoded so that `.`/`..` stay data and `/` stays inside the segment. */
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/\./g, (dot, offset: number, whole: string) => (/^\.{1,2}$/.test(whole) ? '%2E' : dot));
}

export class ApiClient {
  private readonly ca: Buffer | undefined;

  constructor(
    private readonly settings: RemoteApiSettings,
    private readonly token: string,
  ) {
    this.ca = settings.caPath ? readFileSync(settings.caPath) : undefined;
  }

  /** Sends one call and returns its JSON answer checked by `schema`; errors are ApiError, ApiUnreachableError or ApiAnswerError. */
  async call<S extends z.ZodType>(call: ApiCall, schema: S): Promise<z.infer<S>> {
    const { status, text } = await this.send(call);
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      if (status < 400) throw new ApiAnswerError(`${this.describe(call)}: the API answered ${status} with something that is not JSON (is ${this.settings.url} the Navigator API?)`);
    }
    if (status >= 400) throw this.failure(call, status, json);
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const where = zodProblems(parsed.error, 'answer').slice(0, 3).join('; ');
      throw new ApiAnswerError(this.redact(`${this.describe(call)}: unexpected answer from the API (${where})`));
    }
    return parsed.data;
  }

  private describe(call: ApiCall): string {
    return `${call.method} /${call.path.join('/')}`;
  }

  /** Last line of defence: whatever a server or a library says, the token is not repeated. */
  private redact(text: string): string {
    return text.split(this.token).join('[token]');
  }

  private failure(call: ApiCall, status: number, json: unknown): ApiError {
    const body = ErrorBody.safeParse(json);
    const said = body.success ? body.data.error : `HTTP ${status}`;
    const problems = body.success ? [...(body.data.problems ?? []), ...(body.data.diagnostics ?? [])].slice(0, 20).map((problem) => `\n  ${problemLine(problem)}`).join('') : '';
    const request = body.success && body.data.requestId ? ` (request id ${body.data.requestId})` : '';
    let message: string;
    if (status === 401) message = `the API refused the token (401): ${said}; check QUBINODE_API_TOKEN or QUBINODE_API_TOKEN_FILE (it may be revoked or expired)`;
    else if (status === 403) message = `the API refused ${this.describe(call)} (403): ${said}`;
    else message = `${said}${problems}${request}`;
    return new ApiError(this.redact(message), status);
  }

  private send(call: ApiCall): Promise<{ status: number; text: string }> {
    const base = new URL(this.settings.url);
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(call.query ?? {})) if (value !== undefined) search.set(key, String(value));
    const pathname = `${base.pathname.replace(/\/$/, '')}/${call.path.map(encodeSegment).join('/')}${search.size ? `?${search.toString()}` : ''}`;
    const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
    const secure = base.protocol === 'https:';
    const timeoutMs = call.timeoutMs ?? 60_000;
    return new Promise((resolve, reject) => {
      const options = {
        host: base.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: base.port || (secure ? 443 : 80),
        method: call.method,
        path: pathname,
        agent: false as const,
        timeout: timeoutMs,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: 'application/json',
          ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
        ...(secure && this.ca ? { ca: this.ca } : {}),
      };
      const onResponse = (response: IncomingMessage): void => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) {
            response.destroy();
            reject(new ApiAnswerError(`${this.describe(call)}: the answer is larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MB`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', (error) => reject(this.unreachable(error)));
      };
      const request = secure ? httpsRequest(options, onResponse) : httpRequest(options, onResponse);
      request.on('timeout', () => request.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000}s`), { code: 'ETIMEDOUT' })));
      request.on('error', (error) => reject(this.unreachable(error)));
      request.end(payload);
    });
  }

  private unreachable(error: NodeJS.ErrnoException): ApiUnreachableError {
    const tls = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|SSL/i.test(`${error.code ?? ''} ${error.message}`);
    const hint = tls ? ' (set QUBINODE_API_CA to the PEM file of the CA that signed the API certificate)' : '';
    return new ApiUnreachableError(this.redact(`cannot reach the API at ${this.settings.url}: ${error.code ?? ''}${error.code ? ' ' : ''}${error.message}${hint}`));
  }
}
