import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MaintenanceWindow, nextWindow, windowWaitText, type WindowState } from '../dag-repos/schema/maintenance-window';
import { zodProblems } from '../config/zod-problems';

/** Maintenance windows: the schema (what a DAG may write) and nextWindow (when work may start). */

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());
const show = (state: WindowState): { open: boolean; opensAt?: string; closesAt: string } => ({ open: state.open, ...(state.opensAt === undefined ? {} : { opensAt: iso(state.opensAt) }), closesAt: iso(state.closesAt) ?? '' });
const window = (input: Record<string, unknown>): MaintenanceWindow => MaintenanceWindow.parse(input);

function problems(input: unknown): string {
  const parsed = MaintenanceWindow.safeParse(input);
  return parsed.success ? '' : zodProblems(parsed.error, '').join('; ');
}

// 2026-11-28 is a Saturday.
const SATURDAY_2AM = window({ days: ['sat'], start: '02:00', duration: '4h' });

describe('the maintenance window schema', () => {
  it('accepts days, a start time, a duration and a time zone, UTC by default', () => {
    assert.equal(SATURDAY_2AM.timezone, 'UTC');
    for (const timezone of ['UTC', '+02:00', '-05:30', '+14:00', 'Europe/Berlin', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5']) {
      assert.equal(problems({ days: ['mon', 'sun'], start: '23:59', duration: '7d', timezone }), '', timezone);
    }
  });

  it('refuses times of day that are not HH:MM within a day', () => {
    for (const start of ['25:00', '24:00', '2:00', '02:60', '02:00:00', '02:00; rm -rf /', '', ' 02:00', '-1:00']) {
      assert.match(problems({ days: ['sat'], start, duration: '1h' }), /^start: a time of day HH:MM/, start);
    }
  });

  it('refuses no days, a day twice and days that are not days', () => {
    assert.match(problems({ days: [], start: '02:00', duration: '1h' }), /^days:/);
    assert.match(problems({ days: ['sat', 'sat'], start: '02:00', duration: '1h' }), /a day is listed twice/);
    assert.match(problems({ days: ['saturday'], start: '02:00', duration: '1h' }), /^days\.0:/);
    assert.match(problems({ days: 'sat', start: '02:00', duration: '1h' }), /^days:/);
    assert.match(problems({ days: Array.from({ length: 8 }, () => 'mon'), start: '02:00', duration: '1h' }), /^days:/);
  });

  it('refuses durations under a minute, over a week, huge or not durations at all', () => {
    assert.match(problems({ days: ['sat'], start: '02:00', duration: '30s' }), /at least 1m/);
    assert.match(problems({ days: ['sat'], start: '02:00', duration: '7d1m' }), /at most 7d/);
    assert.match(problems({ days: ['sat'], start: '02:00', duration: '99999999999d' }), /at most 7d/);
    assert.match(problems({ days: ['sat'], start: '02:00', duration: 'forever' }), /invalid duration/);
    assert.match(problems({ days: ['sat'], start: '02:00', duration: '' }), /invalid duration/);
  });

  it('refuses time zones that are not UTC, an offset or a known IANA name', () => {
    for (const timezone of ['Europe/Berlin; rm -rf /', 'Mars/Olympus_Mons', '+15:00', '+2:00', '../../etc/localtime', '/etc/localtime', 'x'.repeat(100), '', 'Europe/Berlin\n']) {
      assert.match(problems({ days: ['sat'], start: '02:00', duration: '1h', timezone }), /^timezone:/, JSON.stringify(timezone));
    }
  });

  it('refuses keys it does not know', () => {
    assert.match(problems({ days: ['sat'], start: '02:00', duration: '1h', end: '06:00' }), /end/);
  });
});

describe('nextWindow', () => {
  it('says when a closed window opens and closes', () => {
    assert.deepEqual(show(nextWindow(SATURDAY_2AM, at('2026-11-27T12:00:00Z'))), { open: false, opensAt: '2026-11-28T02:00:00.000Z', closesAt: '2026-11-28T06:00:00.000Z' });
  });

  it('is open from its first instant until just before it closes', () => {
    assert.deepEqual(show(nextWindow(SATURDAY_2AM, at('2026-11-28T02:00:00Z'))), { open: true, closesAt: '2026-11-28T06:00:00.000Z' });
    assert.deepEqual(show(nextWindow(SATURDAY_2AM, at('2026-11-28T05:59:59.999Z'))), { open: true, closesAt: '2026-11-28T06:00:00.000Z' });
  });

  it('wraps to next week once this week\'s window has closed', () => {
    assert.deepEqual(show(nextWindow(SATURDAY_2AM, at('2026-11-28T06:00:00Z'))), { open: false, opensAt: '2026-12-05T02:00:00.000Z', closesAt: '2026-12-05T06:00:00.000Z' });
    assert.deepEqual(show(nextWindow(SATURDAY_2AM, at('2026-11-29T00:00:00Z'))).opensAt, '2026-12-05T02:00:00.000Z');
  });

  it('stays open past midnight into the next day', () => {
    const sundayLate = window({ days: ['sun'], start: '22:00', duration: '4h' });
    assert.deepEqual(show(nextWindow(sundayLate, at('2026-11-30T01:00:00Z'))), { open: true, closesAt: '2026-11-30T02:00:00.000Z' });
    assert.deepEqual(show(nextWindow(sundayLate, at('2026-11-30T02:00:00Z'))).opensAt, '2026-12-06T22:00:00.000Z');
  });

  it('wraps from Saturday night into a window that began on Saturday and into one that opens on Sunday', () => {
    const saturdayNight = window({ days: ['sat'], start: '23:00', duration: '3h' });
    assert.deepEqual(show(nextWindow(saturdayNight, at('2026-11-29T01:00:00Z'))), { open: true, closesAt: '2026-11-29T02:00:00.000Z' });
    const sundayEarly = window({ days: ['sun'], start: '00:30', duration: '1h' });
    assert.deepEqual(show(nextWindow(sundayEarly, at('2026-11-28T23:00:00Z'))).opensAt, '2026-11-29T00:30:00.000Z');
  });

  it('picks the nearest of several days', () => {
    const weekdays = window({ days: ['mon', 'wed', 'fri'], start: '03:00', duration: '1h' });
    assert.equal(show(nextWindow(weekdays, at('2026-11-30T04:00:00Z'))).opensAt, '2026-12-02T03:00:00.000Z');
    assert.equal(show(nextWindow(weekdays, at('2026-12-04T04:00:00Z'))).opensAt, '2026-12-07T03:00:00.000Z');
  });

  it('reads back-to-back windows as one', () => {
    const monTue = window({ days: ['mon', 'tue'], start: '00:00', duration: '24h' });
    assert.deepEqual(show(nextWindow(monTue, at('2026-11-30T10:00:00Z'))), { open: true, closesAt: '2026-12-02T00:00:00.000Z' });
    const allWeek = window({ days: ['mon'], start: '00:00', duration: '7d' });
    assert.equal(nextWindow(allWeek, at('2026-11-28T10:00:00Z')).open, true);
  });

  it('places a window at its local time under a fixed offset', () => {
    const plusTwo = window({ days: ['sat'], start: '02:00', duration: '1h', timezone: '+02:00' });
    assert.equal(show(nextWindow(plusTwo, at('2026-11-27T12:00:00Z'))).opensAt, '2026-11-28T00:00:00.000Z');
    const minusFiveThirty = window({ days: ['sat'], start: '02:00', duration: '1h', timezone: '-05:30' });
    assert.equal(show(nextWindow(minusFiveThirty, at('2026-11-27T12:00:00Z'))).opensAt, '2026-11-28T07:30:00.000Z');
    // Saturday 01:00 at +02:00 is still Friday in UTC: the local day decides.
    const early = window({ days: ['sat'], start: '01:00', duration: '1h', timezone: '+02:00' });
    assert.equal(show(nextWindow(early, at('2026-11-27T12:00:00Z'))).opensAt, '2026-11-27T23:00:00.000Z');
  });

  it('follows daylight saving time in an IANA zone: winter, summer, a skipped hour and a repeated hour', () => {
    const berlin = (days: string[], start: string) => window({ days, start, duration: '1h', timezone: 'Europe/Berlin' });
    assert.equal(show(nextWindow(berlin(['sat'], '02:00'), at('2026-11-27T12:00:00Z'))).opensAt, '2026-11-28T01:00:00.000Z', 'CET is +01:00');
    assert.equal(show(nextWindow(berlin(['sat'], '02:00'), at('2026-07-01T12:00:00Z'))).opensAt, '2026-07-04T00:00:00.000Z', 'CEST is +02:00');
    // 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not happen; the window opens at 03:30 CEST.
    assert.equal(show(nextWindow(berlin(['sun'], '02:30'), at('2026-03-28T12:00:00Z'))).opensAt, '2026-03-29T01:30:00.000Z');
    // 2026-10-25 03:00 CEST falls back to 02:00 CET: 02:30 happens twice; the window opens at the first.
    assert.equal(show(nextWindow(berlin(['sun'], '02:30'), at('2026-10-24T12:00:00Z'))).opensAt, '2026-10-25T00:30:00.000Z');
    // Across the change, the next Sunday's window is an hour later in UTC.
    assert.equal(show(nextWindow(berlin(['sun'], '02:30'), at('2026-10-25T02:00:00Z'))).opensAt, '2026-11-01T01:30:00.000Z');
  });

  it('gives the same answer whatever the time zone of the machine', () => {
    const saved = process.env.TZ;
    const answers: string[] = [];
    try {
      for (const tz of ['UTC', 'America/New_York', 'Asia/Kolkata', 'Pacific/Kiritimati']) {
        process.env.TZ = tz;
        answers.push(JSON.stringify([SATURDAY_2AM, window({ days: ['sun'], start: '02:30', duration: '1h', timezone: 'Europe/Berlin' })].map((w) => nextWindow(w, at('2026-10-24T12:00:00Z')))));
      }
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
    assert.equal(new Set(answers).size, 1, answers.join('\n'));
  });

  it('says what a run waiting for it shows', () => {
    assert.equal(windowWaitText(at('2026-11-28T02:00:00Z')), 'waiting for maintenance window (opens 2026-11-28T02:00:00.000Z)');
  });
});
