import { RepoConfig } from '../dag-repos/schema/repo-config';
import { DagId } from '../dag-repos/schema/dag-spec';

/** What `qubinode stats` and GET /api/stats ask for, checked before any query is built. Pure. */

/** A stats request the engine will not answer: a window or DAG id that does not parse. */
export class BadStatsRequestError extends Error {
  override readonly name = 'BadStatsRequestError';
}

/** The window when none is given. */
export const DEFAULT_STATS_WINDOW = '7d';

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;
const RELATIVE = /^(\d{1,5})([mhdw])$/;
// A date, or a date and time with an offset (Z or ±hh:mm): a time without an offset would be read in this machine's zone.
const ABSOLUTE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;
const WINDOW_FORMS = 'a duration such as 90m, 24h, 7d or 2w, or an ISO date (2026-11-01) or date-time with an offset (2026-11-01T08:00:00Z)';

// Date parsing rolls 2026-02-30 over into March: the day must exist in its month.
function isCalendarDate(ymd: string): boolean {
  const [year, month, day] = ymd.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** The start of a window (`24h`, `7d`, `90m`, `2w`, or an ISO date or date-time with an offset) before `now`. */
export function windowStart(text: string, now: Date = new Date()): Date {
  const relative = RELATIVE.exec(text);
  if (relative) {
    const amount = Number(relative[1]);
    if (amount === 0) throw new BadStatsRequestError(`since "${text}": the window must be longer than zero`);
    return new Date(now.getTime() - amount * UNIT_MS[relative[2] as keyof typeof UNIT_MS]);
  }
  const shown = text.length > 60 ? `${text.slice(0, 60)}…` : text;
  if (!ABSOLUTE.test(text)) throw new BadStatsRequestError(`since "${shown}": expected ${WINDOW_FORMS}`);
  const at = new Date(text.length === 10 ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(at.getTime()) || !isCalendarDate(text.slice(0, 10))) throw new BadStatsRequestError(`since "${shown}": not a real date`);
  if (at.getTime() > now.getTime()) throw new BadStatsRequestError(`since "${shown}": the window starts in the future`);
  return at;
}

/** A catalog id (`<repo>/<dag id>`) by the grammars of repository names and DAG ids, else a BadStatsRequestError. */
export function checkedCatalogId(text: string): string {
  const slash = text.indexOf('/');
  const shown = JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
  if (slash < 0) throw new BadStatsRequestError(`dag ${shown}: expected a catalog id <repo>/<dag id>, e.g. examples/hello`);
  const repo = RepoConfig.shape.name.safeParse(text.slice(0, slash));
  if (!repo.success) throw new BadStatsRequestError(`dag ${shown}: the repository part must be letters, digits, ".", "_" or "-" (at most 63)`);
  const dag = DagId.safeParse(text.slice(slash + 1));
  if (!dag.success) throw new BadStatsRequestError(`dag ${shown}: the DAG id part must start with a letter or digit and hold only letters, digits, ".", "_" and "-" (at most 100)`);
  return text;
}

/**
 * A string literal of Temporal's list-filter language. Its parser reads backslash escapes as well as
 * doubled quotes, so both are escaped: no value can end the string and add a clause.
 */
export function visibilityLiteral(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** The visibility query of DAG runs started at or after `since`, of one DAG when given (checked by its grammar first). */
export function statsQuery(since: Date, dag?: string): string {
  const clauses = [`WorkflowType = 'dagRun'`, `StartTime >= ${visibilityLiteral(since.toISOString())}`];
  if (dag !== undefined) clauses.push(`QubinodeDag = ${visibilityLiteral(checkedCatalogId(dag))}`);
  return clauses.join(' AND ');
}
