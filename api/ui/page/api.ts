import type { Session, SignInMethods } from './types';

/** An answer other than 2xx: its status and the API's `error` text (and `problems`, when it gave them). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
    readonly problems: string[] = [],
  ) {
    super(message);
  }
}

/** 401: the session is gone (expired, signed out elsewhere, token revoked). */
export class SignedOutError extends ApiError {}

let csrf = '';
let onSignedOut: () => void = () => {};

/** The CSRF token of the current session: sent with every write, as the server asks. */
export function setCsrfToken(token: string | null): void {
  csrf = token ?? '';
}

/** What to do when any call answers 401 (the app shows the sign-in page). */
export function whenSignedOut(handler: () => void): void {
  onSignedOut = handler;
}

function problemText(problem: unknown): string {
  if (typeof problem === 'string') return problem;
  if (problem && typeof problem === 'object' && 'message' in problem) {
    const { param, message } = problem as { param?: unknown; message: unknown };
    return `${typeof param === 'string' ? `${param}: ` : ''}${String(message)}`;
  }
  return JSON.stringify(problem);
}

async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  const response = await fetch(url, {
    method,
    credentials: 'same-origin',
    headers: { ...(csrf ? { 'x-csrf-token': csrf } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), accept: 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (response.status === 204) return undefined as T;
  const answer: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const { error, problems } = (answer ?? {}) as { error?: unknown; problems?: unknown };
    const message = typeof error === 'string' ? error : `${response.status} ${response.statusText}`;
    const listed = Array.isArray(problems) ? problems.map(problemText) : [];
    if (response.status === 401) {
      onSignedOut();
      throw new SignedOutError(401, message);
    }
    throw new ApiError(response.status, message, listed);
  }
  return answer as T;
}

export const get = <T>(url: string): Promise<T> => call<T>('GET', url);
export const post = <T>(url: string, body: unknown = {}): Promise<T> => call<T>('POST', url, body);

/** `?a=1&b=2` from the values that are set; empty when none is. */
export function query(values: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(values)) if (value !== undefined && value !== '') params.set(name, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Run ids hold slashes; the API takes them percent-encoded in its path. */
export const runPath = (runId: string): string => `/api/runs/${encodeURIComponent(runId)}`;

/** Catalog ids are `<repo>/<dag>`: percent-encoded whole, so no part of one can climb out of the path (`..`). */
export const dagPath = (dagId: string): string => `/api/dags/${encodeURIComponent(dagId)}`;

/** The session behind the cookie, or undefined when there is none (no 401 handler: this is how the page learns it). */
export async function readSession(): Promise<Session | undefined> {
  const response = await fetch('/ui/session', { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (response.status === 401) return undefined;
  if (!response.ok) throw new ApiError(response.status, `session: ${response.status} ${response.statusText}`);
  return (await response.json()) as Session;
}

/** How this server lets a browser sign in: a token always, the identity provider when configured. */
export async function signInMethods(): Promise<SignInMethods> {
  const response = await fetch('/ui/session/methods', { credentials: 'same-origin', headers: { accept: 'application/json' } });
  if (!response.ok) return { token: true, sso: null };
  return (await response.json()) as SignInMethods;
}

/** Trades a personal token (or an OIDC JWT) for the session cookie. */
export async function signIn(token: string): Promise<Session> {
  const response = await fetch('/ui/session', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ token }),
  });
  const answer = (await response.json().catch(() => ({}))) as Session & { error?: string };
  if (!response.ok) throw new ApiError(response.status, typeof answer.error === 'string' ? answer.error : `sign-in refused (${response.status})`);
  return answer;
}

export async function signOut(): Promise<void> {
  await fetch('/ui/session', { method: 'DELETE', credentials: 'same-origin', headers: csrf ? { 'x-csrf-token': csrf } : {} });
  csrf = '';
}
