import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { temporal } from '@temporalio/proto';
import type { FleetLab, LabHost } from './fleet-lab';
import type { TestEngine } from './engine';

/**
 * What the fleet trials judge by: the journal each trial tool keeps in its host's own data directory
 * (what started, with its pid and the time, and whether an earlier copy was still alive then), the
 * markers an update leaves, and the attempts of a task as the run's history records them.
 */

/** One line a trial's tool wrote on its host: `<event> <pid> <epoch ns> [another pid]`. */
export interface JournalLine {
  event: 'start' | 'end' | 'term' | 'stopped' | 'alive' | 'apply' | 'undo' | 'after';
  pid: number;
  atMs: number;
  /** For `alive`: the earlier copy's pid, still running when this one started; for `start` and `after`: the worker's pid. */
  other?: number;
}

const EVENTS = new Set<string>(['start', 'end', 'term', 'stopped', 'alive', 'apply', 'undo', 'after']);

function trialsDir(host: LabHost): string {
  return path.join(host.dataDir, 'trials');
}

/** The journal a trial's tools kept on `host` (empty when nothing ran there). */
export function readJournal(host: LabHost, trial: string): JournalLine[] {
  const file = path.join(trialsDir(host), `${trial}.journal`);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line): JournalLine => {
      const [event = '', pid = '', stamp = '', other] = line.split(' ');
      if (!EVENTS.has(event) || !/^\d+$/.test(pid) || !/^\d+$/.test(stamp)) throw new Error(`${file}: not a journal line: ${JSON.stringify(line)}`);
      return { event: event as JournalLine['event'], pid: Number(pid), atMs: Math.round(Number(stamp) / 1e6), ...(other === undefined ? {} : { other: Number(other) }) };
    });
}

/** Whether the trial's update step left its marker on `host` (written by the update, removed by its rollback). */
export function hasUpdateMarker(host: LabHost, trial: string): boolean {
  return existsSync(path.join(trialsDir(host), `${trial}.updated`));
}

/** Makes the trials' shell health check fail on `host` (a file in its data directory), or pass again. */
export function setUnhealthy(host: LabHost, unhealthy: boolean): void {
  mkdirSync(trialsDir(host), { recursive: true });
  const file = path.join(trialsDir(host), 'unhealthy');
  if (unhealthy) writeFileSync(file, 'set by the fleet trials\n');
  else rmSync(file, { force: true });
}

/** Forgets what earlier trials left on every host (journals, markers, the unhealthy flag). */
export function clearTrials(lab: FleetLab): void {
  for (const host of lab.hosts) rmSync(trialsDir(host), { recursive: true, force: true });
}

/** The copies of a tool that were alive together on a host: `alive` lines, and starts before an earlier copy's last line. */
export function overlaps(journal: readonly JournalLine[]): string[] {
  const found = journal.filter((line) => line.event === 'alive').map((line) => `pid ${line.pid} started while pid ${line.other ?? '?'} was alive`);
  const starts = journal.filter((line) => line.event === 'start');
  for (const [index, later] of starts.entries()) {
    for (const earlier of starts.slice(0, index)) {
      const lastOfEarlier = journal.filter((line) => line.pid === earlier.pid).at(-1);
      if (lastOfEarlier && lastOfEarlier.atMs > later.atMs) found.push(`pid ${earlier.pid} wrote "${lastOfEarlier.event}" after pid ${later.pid} started`);
    }
  }
  return found;
}

/** When an activity's attempts were scheduled, started and ended in a run's history, and how each ended. */
export interface HistoryAttempt {
  scheduledAtMs: number;
  startedAtMs?: number;
  endedAtMs?: number;
  ending?: 'completed' | 'failed' | 'cancelled' | `timed-out:${string}`;
}

const TIMEOUT_TYPES = temporal.api.enums.v1.TimeoutType;

function eventMs(event: temporal.api.history.v1.IHistoryEvent): number {
  const time = event.eventTime;
  return Number(time?.seconds ?? 0) * 1000 + Math.floor((time?.nanos ?? 0) / 1e6);
}

/** Every attempt of activity `activityId` in the history of run `runId` (one per scheduled event). */
export async function historyAttempts(engine: TestEngine, runId: string, activityId: string): Promise<HistoryAttempt[]> {
  const history = await engine.client.workflow.getHandle(runId).fetchHistory();
  const attempts = new Map<string, HistoryAttempt>();
  for (const event of history.events ?? []) {
    const id = String(event.eventId);
    if (event.activityTaskScheduledEventAttributes?.activityId === activityId) attempts.set(id, { scheduledAtMs: eventMs(event) });
    const started = event.activityTaskStartedEventAttributes;
    if (started) {
      const attempt = attempts.get(String(started.scheduledEventId));
      if (attempt) attempt.startedAtMs = eventMs(event);
    }
    const endings: Array<[{ scheduledEventId?: Long | number | null } | null | undefined, HistoryAttempt['ending']]> = [
      [event.activityTaskCompletedEventAttributes, 'completed'],
      [event.activityTaskFailedEventAttributes, 'failed'],
      [event.activityTaskCanceledEventAttributes, 'cancelled'],
      [event.activityTaskTimedOutEventAttributes, `timed-out:${TIMEOUT_TYPES[event.activityTaskTimedOutEventAttributes?.failure?.timeoutFailureInfo?.timeoutType ?? 0] ?? 'unknown'}`],
    ];
    for (const [attributes, ending] of endings) {
      const attempt = attributes ? attempts.get(String(attributes.scheduledEventId)) : undefined;
      if (attempt) Object.assign(attempt, { endedAtMs: eventMs(event), ending });
    }
  }
  return [...attempts.values()];
}
