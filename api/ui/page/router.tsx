import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

/** Client-side paths under /ui: history.pushState, no reload. */

const listeners = new Set<() => void>();

function notify(): void {
  for (const listener of listeners) listener();
}

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  notify();
}

if (typeof window !== 'undefined') window.addEventListener('popstate', notify);

/** The current path, re-rendering on navigation. */
export function usePath(): string {
  const [path, setPath] = useState(location.pathname);
  useEffect(() => {
    const update = (): void => setPath(location.pathname);
    listeners.add(update);
    return () => {
      listeners.delete(update);
    };
  }, []);
  return path;
}

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
    return value === '' ? undefined : value;
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

/** An ordinary link that navigates in place; a modified click (new tab, download) is left to the browser. */
export function Link(props: { href: string; children: ComponentChildren; class?: string; current?: boolean }) {
  return (
    <a
      href={props.href}
      class={props.class}
      aria-current={props.current ? 'page' : undefined}
      onClick={(event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(props.href);
      }}
    >
      {props.children}
    </a>
  );
}
