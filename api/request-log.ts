import type { FastifyRequest } from 'fastify';

/** Query parameters whose values are credentials somewhere on the way through (the sign-in callback's code and state, tokens). */
const SECRET_QUERY_NAMES = /^(code|state|session_state|token|access_token|id_token|refresh_token|client_secret)$/i;

/** The request's URL for a log line: the values of credential-like query parameters are replaced by `***`. */
export function loggedUrl(url: string): string {
  const question = url.indexOf('?');
  if (question < 0) return url;
  const query = url
    .slice(question + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const name = eq < 0 ? pair : pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // An undecodable name is logged as given: it is not one of ours.
      }
      return eq >= 0 && SECRET_QUERY_NAMES.test(decoded) ? `${name}=***` : pair;
    })
    .join('&');
  return `${url.slice(0, question)}?${query}`;
}

/** The `req` of the API's request log lines: what Fastify logs by default, with {@link loggedUrl}. */
export function requestLogSerializer(request: FastifyRequest): Record<string, unknown> {
  return { method: request.method, url: loggedUrl(request.url), host: request.host, remoteAddress: request.ip, remotePort: request.socket?.remotePort };
}
