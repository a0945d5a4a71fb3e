/**
 * One HTTP request to a test's API server: a bearer token when given, a JSON body when given.
 * Tests call it with `null` for "no token" to play a stranger.
 */
export function apiRequest(base: string, method: string, url: string, token: string | null, body?: unknown): Promise<Response> {
  return fetch(`${base}${url}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}
