import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, openSync, closeSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { processStartTicks } from '../platform/attempt-ledger';

/**
 * The state of a network checkpoint on its host, in files under the worker's data directory, so a
 * restarted worker (or the revert timer, a process of its own) finds it:
 *
 *   <key>.json          what was armed: revert steps, deadline, task log
 *   <key>.armed         exists while the change is neither confirmed nor reverted
 *   <key>.claim-confirm / <key>.claim-revert   the armed file, renamed by whoever settled it
 *   <key>.revert-now    a request (with its reason) that the timer revert before its deadline
 *   <key>.applied       every apply command succeeded (written by the apply, nothing else)
 *   <key>.timer         pid and start time of the revert timer process
 *   <key>.outcome.json  how it ended, written once by the one that settled it
 *
 * Confirming and reverting both settle the checkpoint by renaming `<key>.armed`: rename is atomic,
 * so exactly one of them wins and the other learns it lost. A confirmed change is never reverted,
 * and a reverted one is never confirmed.
 */

export const CHECKPOINT_DIR_NAME = 'network-checkpoints';

const Steps = z.array(z.array(z.string()).min(1));

export const CheckpointRecord = z.object({
  id: z.string(),
  mode: z.enum(['timer', 'nmcli']),
  armedAt: z.string(),
  deadlineAt: z.string(),
  confirmWithinMs: z.number().int().positive(),
  revert: Steps,
  /** Where the revert steps' output goes (the task's log), when known. */
  logPath: z.string().optional(),
  /** The NetworkManager checkpoint object path, under mode nmcli. */
  nmCheckpoint: z.string().optional(),
});
export type CheckpointRecord = z.infer<typeof CheckpointRecord>;

export const StepResult = z.object({
  command: z.string(),
  exitCode: z.number().int().nullable(),
  signal: z.string().optional(),
  error: z.string().optional(),
});
export type StepResult = z.infer<typeof StepResult>;

/** Why a checkpoint was reverted. */
export const RevertReason = z.enum(['timer', 'apply-failed', 'check-failed', 'late']);
export type RevertReason = z.infer<typeof RevertReason>;

export const CheckpointOutcome = z.discriminatedUnion('state', [
  z.object({ state: z.literal('confirmed'), at: z.string() }),
  z.object({ state: z.literal('reverted'), reason: RevertReason, detail: z.string().optional(), at: z.string(), revertSteps: z.array(StepResult) }),
]);
export type CheckpointOutcome = z.infer<typeof CheckpointOutcome>;

/** Where a checkpoint stands, as its files say. */
export type CheckpointState =
  | { state: 'absent' }
  | { state: 'armed'; record: CheckpointRecord }
  | { state: 'settling'; by: 'confirm' | 'revert'; record: CheckpointRecord }
  | { state: 'settled'; record: CheckpointRecord; outcome: CheckpointOutcome };

const RevertRequest = z.object({ reason: RevertReason, detail: z.string().optional() });
export type RevertRequest = z.infer<typeof RevertRequest>;

const TimerRecord = z.object({ pid: z.number().int().positive(), startTicks: z.string().optional() });

/** A checkpoint id that already has files: arming twice would let two timers race one change. */
export class CheckpointExistsError extends Error {
  override readonly name = 'CheckpointExistsError';
}

/** The checkpoint files of one host (one worker data directory). */
export class CheckpointStore {
  constructor(readonly directory: string) {}

  /** File-name key of a checkpoint id: ids come from workflow ids, so they are hashed rather than used as paths. */
  static key(id: string): string {
    return createHash('sha256').update(id).digest('hex').slice(0, 32);
  }

  private file(id: string, suffix: string): string {
    return path.join(this.directory, `${CheckpointStore.key(id)}${suffix}`);
  }

  /** Records the checkpoint and marks it armed. */
  arm(record: CheckpointRecord): void {
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    if (existsSync(this.file(record.id, '.json'))) throw new CheckpointExistsError(`network checkpoint ${record.id} was armed before`);
    this.writeAtomic(this.file(record.id, '.json'), record);
    closeSync(openSync(this.file(record.id, '.armed'), 'wx', 0o600));
  }

  recordTimer(id: string, pid: number): void {
    this.writeAtomic(this.file(id, '.timer'), { pid, startTicks: processStartTicks(pid) });
  }

  /** True while the recorded timer process of the checkpoint still runs (a reused pid does not count). */
  timerAlive(id: string): boolean {
    const timer = this.readJson(this.file(id, '.timer'), TimerRecord);
    if (!timer) return false;
    const ticks = processStartTicks(timer.pid);
    return ticks !== undefined && (timer.startTicks === undefined || ticks === timer.startTicks);
  }

  /**
   * Settles an armed checkpoint for `by`: true when this caller won (it alone may now confirm or
   * revert), false when it was settled already (or never armed).
   */
  claim(id: string, by: 'confirm' | 'revert'): boolean {
    try {
      renameSync(this.file(id, '.armed'), this.file(id, `.claim-${by}`));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  /** Written once, by the caller that won the claim. */
  settle(id: string, outcome: CheckpointOutcome): void {
    this.writeAtomic(this.file(id, '.outcome.json'), outcome);
  }

  requestRevert(id: string, request: RevertRequest): void {
    this.writeAtomic(this.file(id, '.revert-now'), request);
  }

  revertRequest(id: string): RevertRequest | undefined {
    return this.readJson(this.file(id, '.revert-now'), RevertRequest);
  }

  markApplied(id: string): void {
    closeSync(openSync(this.file(id, '.applied'), 'w', 0o600));
  }

  isApplied(id: string): boolean {
    return existsSync(this.file(id, '.applied'));
  }

  /** Ids of the checkpoints still armed on this host. */
  armedIds(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.directory);
    } catch {
      return [];
    }
    return names.flatMap((name) => {
      if (!name.endsWith('.armed')) return [];
      const record = this.readJson(path.join(this.directory, `${name.slice(0, -'.armed'.length)}.json`), CheckpointRecord);
      return record ? [record.id] : [];
    });
  }

  isArmed(id: string): boolean {
    return existsSync(this.file(id, '.armed'));
  }

  read(id: string): CheckpointState {
    const record = this.readJson(this.file(id, '.json'), CheckpointRecord);
    if (!record) return { state: 'absent' };
    const outcome = this.readJson(this.file(id, '.outcome.json'), CheckpointOutcome);
    if (outcome) return { state: 'settled', record, outcome };
    if (existsSync(this.file(id, '.armed'))) return { state: 'armed', record };
    for (const by of ['confirm', 'revert'] as const) if (existsSync(this.file(id, `.claim-${by}`))) return { state: 'settling', by, record };
    return { state: 'armed', record };
  }

  /** Removes the files of checkpoints settled longer ago than `olderThanMs` (armed ones stay, whatever their age). */
  prune(olderThanMs: number, now = Date.now()): void {
    let names: string[];
    try {
      names = readdirSync(this.directory);
    } catch {
      return;
    }
    const settled = names.filter((name) => name.endsWith('.outcome.json')).map((name) => name.slice(0, -'.outcome.json'.length));
    for (const key of settled) {
      const outcomeFile = path.join(this.directory, `${key}.outcome.json`);
      if (now - statSync(outcomeFile).mtimeMs < olderThanMs) continue;
      for (const name of names) if (name.startsWith(`${key}.`)) rmSync(path.join(this.directory, name), { force: true });
    }
  }

  private writeAtomic(file: string, value: unknown): void {
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(value), { mode: 0o600 });
    renameSync(temporary, file);
  }

  private readJson<T>(file: string, schema: z.ZodType<T>): T | undefined {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
    try {
      const parsed = schema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data : undefined;
    } catch {
      return undefined;
    }
  }
}
