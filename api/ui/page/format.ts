import type { Role, TaskState } from './types';

/**
 * One symbol per task state, as the CLI's (workflows/run-status.ts TASK_STATE_ICON) but for waiting:
 * ⏸ is missing from the fonts a server's browser often has, and would show as an empty box.
 */
export const STATE_ICON: Record<TaskState, string> = {
  pending: '○',
  running: '▶',
  waiting: '‖',
  succeeded: '✔',
  failed: '✖',
  skipped: '↷',
  cancelled: '■',
};

const KNOWN_STATES = new Set<string>(Object.keys(STATE_ICON));

/** The CSS class of a state (`state-failed`); an unknown state gets the neutral one, never a class built from its text. */
export function stateClass(state: string): string {
  return KNOWN_STATES.has(state) ? `state-${state}` : 'state-other';
}

/** Icon and word: state is never told by colour alone. */
export function stateLabel(state: string): string {
  const icon = KNOWN_STATES.has(state) ? STATE_ICON[state as TaskState] : '?';
  return `${icon} ${state}`;
}

/** `850ms`, `4.2s`, `3m07s`, `2h05m`: how long from start to end (or to `now` while it runs); empty before it started. */
export function durationBetween(start: string | undefined, end: string | undefined, now: number = Date.now()): string {
  if (!start) return '';
  const from = Date.parse(start);
  const to = end ? Date.parse(end) : now;
  if (Number.isNaN(from) || Number.isNaN(to)) return '';
  return formatMs(Math.max(0, to - from));
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${String(seconds % 60).padStart(2, '0')}s`;
  const minutes = Math.floor(seconds / 60);
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}

/** `2026-11-27 11:55:09` in the reader's time zone; the raw text when it is not a date. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (value: number): string => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/**
 * Whether `roles` meet a minimum role, as the API decides it (api/caller.ts meetsRole): admin meets
 * every role, any role meets viewer, operator and approver are separate duties.
 */
export function meetsRole(roles: readonly Role[], minimum: Role): boolean {
  if (roles.includes('admin')) return true;
  if (minimum === 'viewer') return roles.length > 0;
  return roles.includes(minimum);
}

/** The run's link in the Temporal Web UI: the formula of client/ui-links.ts. */
export function temporalRunUrl(temporal: { uiUrl: string; namespace: string }, runId: string): string {
  return `${temporal.uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(temporal.namespace)}/workflows/${encodeURIComponent(runId)}`;
}

/** Only http(s) links are rendered as links: a configured `javascript:` URL must never become one. */
export function isWebUrl(url: string): boolean {
  return /^https?:\/\//i.test(url);
}
