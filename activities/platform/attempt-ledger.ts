import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';

/**
 * A file per running activity attempt on this host, naming the worker process that runs it, its
 * Temporal task token and the process groups it started. When a worker dies (`kill -9`, OOM, a host
 * crash), the next worker on the host reads these files, stops the orphaned tool processes and
 * reports the attempt as lost, so the run moves on at once and no tool runs twice beside itself.
 */

export const AttemptRecord = z.object({
  workerPid: z.number().int().positive(),
  /** The worker's start time in clock ticks since boot (/proc/PID/stat), so a reused pid is not mistaken for it. */
  workerStartTicks: z.string(),
  taskToken: z.string().min(1),
  workflowId: z.string(),
  activityId: z.string(),
  activityType: z.string(),
  attempt: z.number().int().positive(),
  startedAt: z.string(),
  /** Process groups (leader pids) the attempt started and has not seen end. */
  groups: z.array(z.number().int().positive()),
});
export type AttemptRecord = z.infer<typeof AttemptRecord>;

/** Set in every tool process of an attempt, so only processes an attempt started are ever killed for it. */
export const ATTEMPT_MARKER_ENV = 'QUBINODE_ATTEMPT_ID';

export interface AttemptStart {
  taskToken: Uint8Array;
  workflowId: string;
  activityId: string;
  activityType: string;
  attempt: number;
}

/** One attempt's record while it runs. */
export class AttemptEntry {
  private readonly groups = new Set<number>();
  private stale = false;

  constructor(
    readonly id: string,
    private readonly file: string,
    private readonly record: Omit<AttemptRecord, 'groups'>,
  ) {}

  /** Records a process group before the attempt waits on it. */
  addGroup(pgid: number): void {
    this.groups.add(pgid);
    this.write();
  }

  /** True once a later attempt of the same activity took over on this host: this one must start nothing more. */
  get superseded(): boolean {
    return this.stale;
  }

  supersede(): void {
    this.stale = true;
  }

  removeGroup(pgid: number): void {
    if (this.groups.delete(pgid)) this.write();
  }

  end(): void {
    rmSync(this.file, { force: true });
  }

  write(): void {
    const record: AttemptRecord = { ...this.record, groups: [...this.groups] };
    // Written whole and renamed into place: a reader never sees half a record, even after a crash mid-write.
    const temporary = `${this.file}.tmp`;
    writeFileSync(temporary, JSON.stringify(record), { mode: 0o600 });
    renameSync(temporary, this.file);
  }
}

/** The start time of a process in clock ticks since boot, or undefined when it is not running. */
export function processStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3 (a zombie has ended); starttime is field 22.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

const entries = new AsyncLocalStorage<AttemptEntry>();

/** The attempt record of the activity running now, if the worker keeps a ledger. */
export function currentAttempt(): AttemptEntry | undefined {
  return entries.getStore();
}

export class AttemptLedger {
  private sequence = 0;
  private readonly workerStartTicks: string;
  private readonly live = new Map<string, AttemptEntry>();

  constructor(readonly directory: string) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    this.workerStartTicks = processStartTicks(process.pid) ?? '0';
  }

  /** Runs `work` with a record of the attempt on disk, removed when it settles. */
  async track<T>(start: AttemptStart, work: () => Promise<T>): Promise<T> {
    this.sequence += 1;
    const id = `${process.pid}-${this.workerStartTicks}-${this.sequence}`;
    const entry = new AttemptEntry(id, path.join(this.directory, `${id}.json`), {
      workerPid: process.pid,
      workerStartTicks: this.workerStartTicks,
      taskToken: Buffer.from(start.taskToken).toString('base64'),
      workflowId: start.workflowId,
      activityId: start.activityId,
      activityType: start.activityType,
      attempt: start.attempt,
      startedAt: new Date().toISOString(),
    });
    entry.write();
    this.live.set(id, entry);
    try {
      return await entries.run(entry, work);
    } finally {
      this.live.delete(id);
      entry.end();
    }
  }

  /** The entry of an attempt this process is running now, by its id (the record's file name). */
  liveEntry(id: string): AttemptEntry | undefined {
    return this.live.get(id);
  }

  /** Drops a record once its attempt has been dealt with. */
  forget(file: string): void {
    rmSync(file, { force: true });
  }

  /** Records left by worker processes that are no longer running (a live worker's records are its own). */
  orphans(): Array<{ file: string; record: AttemptRecord }> {
    return this.records().filter(({ record }) => processStartTicks(record.workerPid) !== record.workerStartTicks);
  }

  /** Every attempt on record, of live and dead workers. */
  records(): Array<{ file: string; record: AttemptRecord }> {
    const found: Array<{ file: string; record: AttemptRecord }> = [];
    for (const name of readdirSync(this.directory)) {
      if (!name.endsWith('.json')) continue;
      const file = path.join(this.directory, name);
      let record: AttemptRecord;
      try {
        record = AttemptRecord.parse(JSON.parse(readFileSync(file, 'utf8')));
      } catch {
        // Not ours or unreadable: nothing can be done for it, and it must not block the others.
        rmSync(file, { force: true });
        continue;
      }
      found.push({ file, record });
    }
    return found;
  }
}
