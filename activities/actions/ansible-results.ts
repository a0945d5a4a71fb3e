import { z } from 'zod';
import { stripAnsi } from '../process/tool-process';

/** Per-host counts from the PLAY RECAP. */
export interface HostStats {
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  rescued: number;
  ignored: number;
}

/** One failed (or unreachable) task on one host. */
export interface FailedTask {
  host: string;
  task: string;
  module: string;
  message: string;
  unreachable: boolean;
}

/** A task record as found in an ansible-navigator artifact (plays[].tasks[]) or the qubinode_results callback. */
const TaskRecord = z.looseObject({
  host: z.string().optional(),
  __host: z.string().optional(),
  task: z.string().optional(),
  __task: z.string().optional(),
  task_action: z.string().optional(),
  resolved_action: z.string().optional(),
  __result: z.string().optional(),
  __changed: z.boolean().optional(),
  res: z.record(z.string(), z.unknown()).optional(),
});
const PlaybookResults = z.looseObject({
  plays: z.array(z.looseObject({ tasks: z.array(TaskRecord).default([]) })).default([]),
});
export type PlaybookResults = z.infer<typeof PlaybookResults>;

const MESSAGE_MAX = 500;
const RECAP_LINE = /^(\S+)\s*:\s*((?:\w+=\d+\s*)+)$/;

/** Parses the PLAY RECAP block of ansible's default stdout (ansible-playbook and navigator stdout mode). */
export function parseRecap(stdout: string): Record<string, HostStats> {
  const lines = stripAnsi(stdout).split('\n');
  const start = lines.findIndex((line) => line.startsWith('PLAY RECAP'));
  if (start < 0) return {};
  const stats: Record<string, HostStats> = {};
  for (const line of lines.slice(start + 1)) {
    const match = RECAP_LINE.exec(line.trim());
    if (!match) continue;
    const counts = Object.fromEntries((match[2] ?? '').trim().split(/\s+/).map((pair) => pair.split('=') as [string, string]));
    const count = (key: string): number => Number(counts[key] ?? 0);
    stats[match[1] ?? ''] = {
      ok: count('ok'),
      changed: count('changed'),
      unreachable: count('unreachable'),
      failed: count('failed'),
      skipped: count('skipped'),
      rescued: count('rescued'),
      ignored: count('ignored'),
    };
  }
  return stats;
}

/** Reads an artifact or callback file; undefined when it is missing or not the expected shape. */
export function parseResults(text: string | undefined): PlaybookResults | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  try {
    const parsed = PlaybookResults.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Failed and unreachable tasks, in run order; ignored failures are not failures. */
export function failedTasks(results: PlaybookResults | undefined): FailedTask[] {
  const failed: FailedTask[] = [];
  for (const play of results?.plays ?? []) {
    for (const record of play.tasks) {
      if (record.__result !== 'Failed' && record.__result !== 'Unreachable') continue;
      failed.push({
        host: record.host ?? record.__host ?? '?',
        task: record.task ?? record.__task ?? '?',
        module: record.resolved_action ?? record.task_action ?? '?',
        message: failureMessage(record.res ?? {}),
        unreachable: record.__result === 'Unreachable',
      });
    }
  }
  return failed;
}

/** Stats computed from task records, for runs whose stdout lost the recap (e.g. a killed run). */
export function statsFromResults(results: PlaybookResults | undefined): Record<string, HostStats> {
  const stats: Record<string, HostStats> = {};
  for (const play of results?.plays ?? []) {
    for (const record of play.tasks) {
      const host = record.host ?? record.__host ?? '?';
      const entry = (stats[host] ??= { ok: 0, changed: 0, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0 });
      if (record.__result === 'Ok') entry.ok += 1;
      if (record.__result === 'Failed') entry.failed += 1;
      if (record.__result === 'Unreachable') entry.unreachable += 1;
      if (record.__result === 'Skipped') entry.skipped += 1;
      if (record.__result === 'Ignored') entry.ignored += 1;
      if (record.__changed === true) entry.changed += 1;
    }
  }
  return stats;
}

/** The most useful line of a failed result: msg, plus the error output a module or command left. */
function failureMessage(res: Record<string, unknown>): string {
  const text = (key: string): string | undefined => {
    const value = res[key];
    return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
  };
  const parts = [text('msg') ?? text('reason')];
  const stderr = text('stderr') ?? text('module_stderr');
  if (stderr !== undefined) parts.push(lastLines(stderr, 3));
  if (typeof res.rc === 'number' && parts[0]?.includes('non-zero return code')) parts[0] = `${parts[0]} (rc ${res.rc})`;
  const message = parts.filter((part): part is string => part !== undefined).join(': ') || 'failed (no message)';
  return message.length <= MESSAGE_MAX ? message : `${message.slice(0, MESSAGE_MAX - 1)}…`;
}

function lastLines(text: string, count: number): string {
  return text.split('\n').map((line) => line.trim()).filter(Boolean).slice(-count).join(' / ');
}

/** The line ansible printed for an error that stopped it before any task ran ("ERROR! ..."). */
export function ansibleErrorLine(output: string): string | undefined {
  const lines = stripAnsi(output).split('\n');
  const index = lines.findIndex((line) => line.startsWith('ERROR!') || line.startsWith('[ERROR]'));
  if (index < 0) return undefined;
  // Syntax errors name the file on the following lines; keep two of them for the location.
  return lines.slice(index, index + 3).map((line) => line.trim()).filter(Boolean).join(' ').slice(0, MESSAGE_MAX);
}

/** Sum of the recap counts across hosts. */
export function totals(stats: Record<string, HostStats>): HostStats {
  const sum: HostStats = { ok: 0, changed: 0, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0 };
  for (const host of Object.values(stats)) {
    for (const key of Object.keys(sum) as (keyof HostStats)[]) sum[key] += host[key];
  }
  return sum;
}
