// Pure module (runs inside workflows): when a maintenance window is open, and when it opens next.
import { z } from 'zod';
import { durationError, parseDuration } from './duration';

/**
 * Time zones: a fixed UTC offset (`UTC`, `+02:00`, `-05:30`) or an IANA name (`Europe/Berlin`). IANA
 * names go through Intl with the zone and the instant always given, never the machine's own zone or
 * clock, so the answer depends only on the window, the instant and the time zone database of the
 * worker's Node.js. Workers on Node builds with different zone data may disagree about a zone whose
 * rules changed between them; a fixed offset never does.
 */

export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const DAY_MS = 86_400_000;
/** Longest window: a week (a window open all week is simply no window). */
export const MAX_WINDOW_MS = 7 * DAY_MS;

const OFFSET = /^([+-])(0\d|1[0-4]):([0-5]\d)$/;
const IANA = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+){0,2}$/;

function zoneError(zone: string): string | undefined {
  if (zone === 'UTC' || OFFSET.test(zone)) return undefined;
  if (zone.length > 64 || !IANA.test(zone)) return `time zone must be UTC, an offset such as +02:00, or an IANA name such as Europe/Berlin, got ${JSON.stringify(zone.slice(0, 70))}`;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return undefined;
  } catch {
    return `unknown time zone ${JSON.stringify(zone)}`;
  }
}

/** A weekly maintenance window: on these days, from `start` local time, for `duration`. */
export const MaintenanceWindow = z
  .strictObject({
    days: z
      .array(z.enum(WEEKDAYS))
      .min(1)
      .max(7)
      .refine((days) => new Set(days).size === days.length, { message: 'a day is listed twice' })
      .describe('Days the window opens on (local to timezone): sun, mon, tue, wed, thu, fri, sat.'),
    start: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'a time of day HH:MM from 00:00 to 23:59' })
      .describe('When the window opens, HH:MM local time.'),
    duration: z
      .string()
      .superRefine((text, ctx) => {
        const error = durationError(text);
        if (error !== undefined) return void ctx.addIssue({ code: 'custom', message: error });
        const ms = parseDuration(text);
        if (ms < 60_000) ctx.addIssue({ code: 'custom', message: 'a window lasts at least 1m' });
        if (ms > MAX_WINDOW_MS) ctx.addIssue({ code: 'custom', message: 'a window lasts at most 7d' });
      })
      .describe('How long the window stays open, e.g. 4h (at most 7d; it may run past midnight).'),
    timezone: z
      .string()
      .default('UTC')
      .superRefine((zone, ctx) => {
        const error = zoneError(zone);
        if (error !== undefined) ctx.addIssue({ code: 'custom', message: error });
      })
      .describe('UTC (default), a fixed offset such as +02:00, or an IANA name such as Europe/Berlin.'),
  })
  .describe('A weekly maintenance window: work waits until it is open.');
export type MaintenanceWindow = z.infer<typeof MaintenanceWindow>;

export interface WindowState {
  open: boolean;
  /** When it opens next (epoch ms); absent while open. */
  opensAt?: number;
  /** When the window that is open, or opens next, closes (epoch ms). */
  closesAt: number;
}

/** Local wall time minus UTC at `utcMs`, in ms. */
function offsetMs(zone: string, utcMs: number): number {
  if (zone === 'UTC') return 0;
  const fixed = OFFSET.exec(zone);
  if (fixed) return (fixed[1] === '-' ? -1 : 1) * (Number(fixed[2]) * 60 + Number(fixed[3])) * 60_000;
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(new Date(utcMs));
  const field = (type: string): number => Number(parts.find((part) => part.type === type)?.value ?? 0);
  const local = Date.UTC(field('year'), field('month') - 1, field('day'), field('hour'), field('minute'), field('second'));
  return local - (utcMs - (((utcMs % 1000) + 1000) % 1000));
}

/**
 * The instant a local wall time happens in `zone` (local time written as if it were UTC). A wall time
 * that a daylight-saving change skips comes out shifted by the change (02:30 on a spring-forward night
 * is 03:30); one that happens twice is its first occurrence.
 */
function localToUtc(zone: string, localMs: number): number {
  // The offsets a day either side cover any one change; a candidate counts when its own offset is the one used.
  const offsets = [offsetMs(zone, localMs - DAY_MS), offsetMs(zone, localMs + DAY_MS)];
  const valid = offsets.map((offset) => localMs - offset).filter((candidate) => offsetMs(zone, candidate) === localMs - candidate);
  if (valid.length > 0) return Math.min(...valid);
  // Skipped by a change: the instant the wall clock would have shown it under the offset before the change.
  return localMs - (offsets[0] ?? 0);
}

/**
 * Whether `window` is open at `nowMs`, and when it closes; or when it opens next. Pure and deterministic:
 * workflows call it with `Date.now()` (workflow time).
 */
export function nextWindow(window: MaintenanceWindow, nowMs: number): WindowState {
  const zone = window.timezone;
  const durationMs = parseDuration(window.duration);
  const [hours, minutes] = window.start.split(':').map(Number) as [number, number];
  const startOfDay = (hours * 60 + minutes) * 60_000;
  const localNow = nowMs + offsetMs(zone, nowMs);
  const today = Math.floor(localNow / DAY_MS) * DAY_MS;
  const days = new Set(window.days);
  let open: { closesAt: number } | undefined;
  let next: { opensAt: number; closesAt: number } | undefined;
  // Windows that began up to a week ago may still be open; one opens within the next eight days.
  for (let day = -8; day <= 8; day += 1) {
    const date = today + day * DAY_MS;
    const weekday = WEEKDAYS[new Date(date).getUTCDay()];
    if (weekday === undefined || !days.has(weekday)) continue;
    const opensAt = localToUtc(zone, date + startOfDay);
    const closesAt = opensAt + durationMs;
    if (opensAt <= nowMs && nowMs < closesAt) open = { closesAt: Math.max(open?.closesAt ?? 0, closesAt) };
    else if (opensAt > nowMs && (next === undefined || opensAt < next.opensAt)) next = { opensAt, closesAt };
  }
  if (open) {
    // Back-to-back windows (a 24h window every day) read as one.
    for (let guard = 0; next && next.opensAt <= open.closesAt && guard < 16; guard += 1) {
      open = { closesAt: Math.max(open.closesAt, next.closesAt) };
      next = nextAfter(window, next.opensAt);
    }
    return { open: true, closesAt: open.closesAt };
  }
  if (!next) throw new Error('maintenance window: no opening found within eight days');
  return { open: false, opensAt: next.opensAt, closesAt: next.closesAt };
}

/** The first opening after `afterMs` (openings are at least 23 hours apart, so one minute on is past this one). */
function nextAfter(window: MaintenanceWindow, afterMs: number): { opensAt: number; closesAt: number } | undefined {
  const state = nextWindow({ ...window, duration: '1m' }, afterMs + 60_000);
  if (state.opensAt === undefined) return undefined;
  return { opensAt: state.opensAt, closesAt: state.opensAt + parseDuration(window.duration) };
}

/** What a run or rollout waiting for its window says, e.g. `waiting for maintenance window (opens 2026-11-29T02:00:00.000Z)`. */
export function windowWaitText(opensAt: number): string {
  return `waiting for maintenance window (opens ${new Date(opensAt).toISOString()})`;
}
