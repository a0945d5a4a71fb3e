import { Context } from '@temporalio/activity';
import { ActivityNotFoundError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, NamespaceNotFoundError } from '@temporalio/common';
import { hostname } from 'node:os';
import { ATTEMPT_MARKER_ENV, type AttemptLedger, type AttemptRecord } from '../activities/platform/attempt-ledger';
import { stopOrphanGroup } from '../activities/process/process-group';
import { WORKER_LOST } from '../dag-repos/actions/action-definition';
import type { Logger } from '../config/logger';

type AnyActivity = (...args: never[]) => Promise<unknown>;

/** Reports an attempt as failed to Temporal by its task token (an async-completion client). */
export type FailAttempt = (taskToken: Uint8Array, failure: ApplicationFailure) => Promise<void>;

export interface RecoveredAttempt {
  workflowId: string;
  activityId: string;
  attempt: number;
  /** Process groups that were still running and were stopped. */
  stoppedGroups: number[];
  /** `reported` when Temporal took the failure; `gone` when the attempt had already ended there (timed out). */
  outcome: 'reported' | 'gone';
}

/** A lost attempt's processes would not die: nothing may start beside them. */
export class OrphanSurvivesError extends Error {
  override readonly name = 'OrphanSurvivesError';
}

/**
 * Finds the attempts of dead workers on this host, stops the tool processes they left and tells
 * Temporal each attempt is lost, so the run schedules it again at once instead of waiting out a
 * heartbeat timeout, and the new attempt never runs beside the old one. Sweeps do not overlap.
 */
export class AttemptRecovery {
  private running: Promise<RecoveredAttempt[]> | undefined;

  constructor(
    private readonly ledger: AttemptLedger,
    private readonly failAttempt: FailAttempt,
    private readonly logger: Logger,
  ) {}

  sweep(): Promise<RecoveredAttempt[]> {
    this.running ??= this.sweepOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Stops what earlier attempts of this activity still run on this host before a new attempt starts.
   * Temporal hands an activity out again only after it gave up on the earlier attempt, so such an
   * attempt is stale even when its worker lives: a host cut off the network past the heartbeat timeout
   * keeps its tool running, and when the link mends the retry can arrive before the old attempt hears
   * it was cancelled. Its processes go first (only those carrying its marker), and it starts no more.
   * Returns the process groups stopped.
   */
  async supersede(workflowId: string, activityId: string): Promise<number[]> {
    if (workflowId === '') return [];
    const stopped: number[] = [];
    for (const { file, record } of this.ledger.records()) {
      if (record.workflowId !== workflowId || record.activityId !== activityId) continue;
      const id = attemptIdOf(file);
      this.ledger.liveEntry(id)?.supersede();
      for (const pgid of record.groups) {
        const result = await stopOrphanGroup(pgid, `${ATTEMPT_MARKER_ENV}=${id}`);
        if (result === 'stopped') stopped.push(pgid);
        if (result === 'still-running') throw new OrphanSurvivesError(`process group ${pgid} of superseded attempt ${record.attempt} of ${activityId} (${workflowId}) survives SIGKILL; not starting another beside it`);
      }
      if (record.groups.length > 0) this.logger.warn({ workflowId, activityId, attempt: record.attempt, workerPid: record.workerPid, stoppedGroups: stopped }, 'a new attempt took over from one Temporal had given up on; its processes were stopped');
    }
    return stopped;
  }

  private async sweepOnce(): Promise<RecoveredAttempt[]> {
    const recovered: RecoveredAttempt[] = [];
    let failed: unknown;
    for (const { file, record } of this.ledger.orphans()) {
      try {
        recovered.push(await this.recover(file, record));
      } catch (error) {
        // One record that cannot be reported now must not hold back the others (it stays for the next sweep).
        if (error instanceof OrphanSurvivesError) throw error;
        failed ??= error;
      }
    }
    if (failed !== undefined) throw failed;
    return recovered;
  }

  private async recover(file: string, record: AttemptRecord): Promise<RecoveredAttempt> {
    const marker = `${ATTEMPT_MARKER_ENV}=${attemptIdOf(file)}`;
    const stoppedGroups: number[] = [];
    for (const pgid of record.groups) {
      const result = await stopOrphanGroup(pgid, marker);
      if (result === 'stopped') stoppedGroups.push(pgid);
      // Reporting the attempt lost now would start a retry beside a process that would not die.
      if (result === 'still-running') throw new OrphanSurvivesError(`process group ${pgid} of lost attempt ${record.activityId} (${record.workflowId}) survives SIGKILL; not reporting it lost`);
    }
    const failure = ApplicationFailure.create({
      type: WORKER_LOST,
      nonRetryable: true,
      message: `the worker running attempt ${record.attempt} (pid ${record.workerPid} on ${hostname()}) died${stoppedGroups.length ? '; its processes were stopped' : ''}`,
      details: [{ attempt: record.attempt }],
    });
    let outcome: RecoveredAttempt['outcome'] = 'reported';
    try {
      await this.failAttempt(Buffer.from(record.taskToken, 'base64'), failure);
    } catch (error) {
      // A namespace the server does not know (a server started afresh on this host's old data) will never take the report either.
      if (!(error instanceof ActivityNotFoundError) && !(error instanceof NamespaceNotFoundError)) throw error;
      outcome = 'gone';
    }
    this.ledger.forget(file);
    const entry: RecoveredAttempt = { workflowId: record.workflowId, activityId: record.activityId, attempt: record.attempt, stoppedGroups, outcome };
    this.logger.warn(entry, 'recovered an attempt lost with its worker');
    return entry;
  }
}

/** An attempt's id is its record's file name without `.json`. */
function attemptIdOf(file: string): string {
  return file.slice(file.lastIndexOf('/') + 1, -'.json'.length);
}

function shuttingDown(): boolean {
  const signal = Context.current().cancellationSignal;
  return signal.aborted && signal.reason instanceof CancelledFailure && signal.reason.message === 'WORKER_SHUTDOWN';
}

/**
 * Keeps a ledger entry for every action attempt, and first recovers the attempts of dead workers on
 * this host, so a retry that lands here never overlaps the orphans of the attempt it replaces.
 */
export function withAttemptLedger<T extends Record<string, AnyActivity>>(activities: T, ledger: AttemptLedger, recovery: AttemptRecovery, logger: Logger): T {
  const wrapped: Record<string, AnyActivity> = {};
  for (const [name, activity] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      await recovery.sweep().catch((error: unknown) => {
        // A failed report is tried again by the next sweep (the record stays); only live orphans block.
        if (error instanceof OrphanSurvivesError) throw ApplicationFailure.create({ type: 'OrphanProcessesAlive', message: error.message });
        logger.warn({ err: error }, 'could not finish recovering lost attempts; continuing');
      });
      const info = Context.current().info;
      await recovery.supersede(info.workflowExecution?.workflowId ?? '', info.activityId).catch((error: unknown) => {
        if (error instanceof OrphanSurvivesError) throw ApplicationFailure.create({ type: 'OrphanProcessesAlive', message: error.message });
        throw error;
      });
      const run = (): Promise<unknown> =>
        activity(...args).catch((error: unknown) => {
          // A worker stopping (upgrade, reboot) cancels its attempts: that is the worker's doing, not the task's.
          if (shuttingDown()) throw ApplicationFailure.create({ type: WORKER_LOST, nonRetryable: true, message: `the worker running attempt ${info.attempt} on ${hostname()} shut down; its processes were stopped`, details: [{ attempt: info.attempt }] });
          throw error;
        });
      return ledger.track({ taskToken: info.taskToken, workflowId: info.workflowExecution?.workflowId ?? '', activityId: info.activityId, activityType: info.activityType, attempt: info.attempt }, run);
    };
  }
  return wrapped as T;
}
