/** The page's paths under /ui and what each shows: pure, so it is tested without a browser. */

export type Route =
  | { page: 'sign-in' }
  | { page: 'runs' }
  | { page: 'run'; runId: string }
  | { page: 'dags' }
  | { page: 'dag'; dagId: string }
  | { page: 'repos' }
  | { page: 'audit' }
  | { page: 'stats' }
  | { page: 'not-found' };

function decoded(part: string): string | undefined {
  try {
    const value = decodeURIComponent(part);
    // `.` and `..` are no ids, and in an API path the browser would resolve them to another route.
    return value === '' || value === '.' || value === '..' ? undefined : value;
  } catch {
    return undefined;
  }
}

/** The page a path shows; ids are one percent-encoded path segment (they hold slashes). */
export function routeOf(path: string): Route {
  const rest = path.replace(/^\/ui(?=\/|$)/, '');
  if (rest === '' || rest === '/') return { page: 'runs' };
  const [, first, second, ...more] = rest.split('/');
  if (more.length > 0) return { page: 'not-found' };
  if (second === undefined) {
    if (first === 'sign-in' || first === 'dags' || first === 'repos' || first === 'audit' || first === 'stats') return { page: first };
    if (first === 'runs') return { page: 'runs' };
    return { page: 'not-found' };
  }
  const id = decoded(second);
  if (id === undefined) return { page: 'not-found' };
  if (first === 'runs') return { page: 'run', runId: id };
  if (first === 'dags') return { page: 'dag', dagId: id };
  return { page: 'not-found' };
}

export const runHref = (runId: string): string => `/ui/runs/${encodeURIComponent(runId)}`;
export const dagHref = (dagId: string): string => `/ui/dags/${encodeURIComponent(dagId)}`;
