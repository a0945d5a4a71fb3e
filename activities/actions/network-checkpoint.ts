import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import * as path from 'node:path';
import type { Logger } from 'pino';
import { taskLogPath } from '../../config/log-layout';
import { CHECKPOINT_UNAVAILABLE, NetworkChangeInput } from '../../dag-repos/actions/network-actions';
import { parseActionInput } from './action-input';
import type { ActionInvocation } from '../../dag-repos/actions/action-types';
import { CHECKPOINT_DIR_NAME, CheckpointExistsError, CheckpointStore, type CheckpointOutcome, type CheckpointRecord, type RevertRequest, type StepResult } from './network-checkpoint-store';
import { NM_BACKSTOP_MS, networkManagerRunning, nmCheckpointCreate, nmCheckpointDestroy } from './network-manager';
import { resumeRevertTimers, revertNow, spawnRevertTimer } from './network-revert-timer';
import { REVERT_STEP_TIMEOUT_MS } from './network-steps';
import { heartbeat } from '../process/secret-scope';
import { runTool, type ToolRunResult } from '../process/tool-process';
import type { FailureType } from '../../dag-repos/actions/failure-types';

/** Which checkpoint of one task (or item) of one run: the id comes from the network-change workflow. */
export interface CheckpointRef {
  checkpointId: string;
  confirmWithinMs: number;
}

/** What applying a change led to: armed and applied (to be confirmed), or already reverted. */
export type ApplyResult =
  | { state: 'applied'; checkpointId: string; mode: 'timer' | 'nmcli'; armedAt: string; deadlineAt: string; sinceArmedMs: number; applySteps: StepResult[] }
  | { state: 'settled'; outcome: CheckpointOutcome };

/** Where a checkpoint ended, as the host's files say; `absent` when the host has no such checkpoint. */
export type SettledResult = { state: 'settled'; outcome: CheckpointOutcome } | { state: 'absent' };

/** Failure types of these activities. */
export const NETWORK_CHECKPOINT_ERRORS = { CheckpointExists: 'CheckpointExists', CheckpointStuck: 'CheckpointStuck' } as const satisfies Record<string, FailureType>;

export interface NetworkCheckpointDeps {
  /** The worker's data directory: checkpoints live in its `network-checkpoints/` so a restarted worker finds them. */
  dataDir: string;
  logRoot: string;
  logger?: Logger;
}

const SETTLE_POLL_MS = 200;
// A report this close to the deadline does not try to confirm: the timer is about to revert anyway.
const LATE_MARGIN_MS = 1_000;
// Old settled checkpoints are removed when a new one is armed: their story is in the run's history.
const PRUNE_AFTER_MS = 7 * 24 * 3_600_000;

type Invocation = ActionInvocation<Record<string, unknown>>;

function commandOf(argv: readonly string[]): [string, string[]] {
  const [file, ...args] = argv as [string, ...string[]];
  return [file, args];
}

function failedStep(result: ToolRunResult): string | undefined {
  if (result.timedOut) return 'did not finish before the deadline';
  if (result.spawnError !== undefined) return `could not start (${result.spawnError})`;
  if (result.exitCode === 0) return undefined;
  const why = result.exitCode !== null ? `exited ${result.exitCode}` : `was killed by ${String(result.signal)}`;
  const hint = (result.stderrTail || result.stdoutTail).trim().split('\n').pop();
  return hint ? `${why}: ${hint.slice(0, 200)}` : why;
}

function stepResult(argv: readonly string[], result: ToolRunResult): StepResult {
  return { command: argv.join(' '), exitCode: result.exitCode, ...(result.signal ? { signal: result.signal } : {}), ...(result.spawnError ? { error: result.spawnError } : {}) };
}

/**
 * The host side of `host.network-change`: arm a checkpoint and apply, confirm, and report what the
 * checkpoint's timer did. All three run on the host's own queue; the workflow decides which and when.
 */
export function createNetworkCheckpointActivities(deps: NetworkCheckpointDeps) {
  const store = new CheckpointStore(path.join(deps.dataDir, CHECKPOINT_DIR_NAME));
  // A worker starting on a host that lost its processes (a reboot) finds the checkpoints left armed: their timers run again.
  try {
    const resumed = resumeRevertTimers(store);
    if (resumed.length > 0) deps.logger?.warn({ checkpoints: resumed }, 'network checkpoints found armed without their revert timer; timers started again');
  } catch (error) {
    deps.logger?.error({ err: error, directory: store.directory }, 'could not look for armed network checkpoints');
  }

  const run = (inv: Invocation, argv: readonly string[], timeoutMs: number): Promise<ToolRunResult> => {
    const [file, args] = commandOf(argv);
    return runTool({
      file,
      args,
      env: { ...process.env, QUBINODE_RUN_ID: inv.runId, QUBINODE_TASK_ID: inv.taskId },
      logPath: taskLogPath(deps.logRoot, inv.runId, inv.taskId, inv.itemIndex),
      secrets: inv.secrets ?? [],
      timeoutMs: Math.max(1, timeoutMs),
      attempt: Context.current().info.attempt,
      ...(deps.logger ? { logger: deps.logger } : {}),
    });
  };

  /** Waits until the checkpoint is settled (by the timer or an early revert); the timer gone, this activity reverts. */
  const settled = async (id: string, request: RevertRequest, limitMs: number): Promise<SettledResult> => {
    const deadline = Date.now() + limitMs;
    for (;;) {
      const state = store.read(id);
      if (state.state === 'absent') return { state: 'absent' };
      if (state.state === 'settled') return { state: 'settled', outcome: state.outcome };
      // A restarted worker (a host rebooted) finds its checkpoint armed with no timer left: it reverts itself.
      if (state.state === 'armed' && !store.timerAlive(state.record.id)) await revertNow(store, id, request);
      if (Date.now() > deadline) throw ApplicationFailure.create({ type: NETWORK_CHECKPOINT_ERRORS.CheckpointStuck, nonRetryable: true, message: `network checkpoint still ${state.state} after ${Math.round(limitMs / 1000)}s` });
      heartbeat({ checkpoint: state.state });
      await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
    }
  };

  const revertLimitMs = (revertSteps: number): number => revertSteps * REVERT_STEP_TIMEOUT_MS + 30_000;

  const revertAtOnce = async (id: string, request: RevertRequest): Promise<SettledResult> => {
    store.requestRevert(id, request);
    const state = store.read(id);
    return settled(id, request, revertLimitMs(state.state === 'absent' ? 1 : state.record.revert.length));
  };

  /** Runs the check, then settles the checkpoint as confirmed unless the timer took it first (then reports the revert). */
  const confirm = async (inv: Invocation, input: NetworkChangeInput, record: CheckpointRecord): Promise<SettledResult> => {
    const limit = revertLimitMs(record.revert.length);
    if (input.check) {
      const result = await run(inv, input.check, Date.parse(record.deadlineAt) - Date.now());
      const failure = failedStep(result);
      if (failure !== undefined) return revertAtOnce(record.id, { reason: 'check-failed', detail: `check (${input.check.join(' ')}) ${failure}` });
    }
    if (!store.claim(record.id, 'confirm')) return settled(record.id, { reason: 'timer' }, limit);
    if (record.nmCheckpoint !== undefined) await nmCheckpointDestroy(record.nmCheckpoint);
    const outcome: CheckpointOutcome = { state: 'confirmed', at: new Date().toISOString() };
    store.settle(record.id, outcome);
    return { state: 'settled', outcome };
  };

  return {
    /** Arms the checkpoint (its revert timer outlives this worker), then applies the change; an apply command that fails reverts at once. */
    async networkChangeApply(inv: Invocation, ref: CheckpointRef): Promise<ApplyResult> {
      const input = parseActionInput('host.network-change', NetworkChangeInput, inv.with);
      let mode: 'timer' | 'nmcli' = 'timer';
      if (input.checkpoint !== 'timer') {
        const running = await networkManagerRunning();
        if (running) mode = 'nmcli';
        else if (input.checkpoint === 'nmcli') throw ApplicationFailure.create({ type: CHECKPOINT_UNAVAILABLE, nonRetryable: true, message: 'checkpoint: nmcli needs NetworkManager, which does not answer on this host\'s system bus; use checkpoint: timer (or auto)' });
      }
      store.prune(PRUNE_AFTER_MS);
      const armedAt = Date.now();
      const logPath = taskLogPath(deps.logRoot, inv.runId, inv.taskId, inv.itemIndex);
      const nmCheckpoint = mode === 'nmcli' ? await nmCheckpointCreate((ref.confirmWithinMs + NM_BACKSTOP_MS) / 1000) : undefined;
      try {
        store.arm({
          id: ref.checkpointId,
          mode,
          armedAt: new Date(armedAt).toISOString(),
          deadlineAt: new Date(armedAt + ref.confirmWithinMs).toISOString(),
          confirmWithinMs: ref.confirmWithinMs,
          revert: input.revert,
          logPath,
          ...(nmCheckpoint ? { nmCheckpoint } : {}),
        });
      } catch (error) {
        if (error instanceof CheckpointExistsError) throw ApplicationFailure.create({ type: NETWORK_CHECKPOINT_ERRORS.CheckpointExists, nonRetryable: true, message: error.message });
        throw error;
      }
      store.recordTimer(ref.checkpointId, spawnRevertTimer(store, ref.checkpointId));
      const applySteps: StepResult[] = [];
      for (const [index, argv] of input.apply.entries()) {
        const result = await run(inv, argv, armedAt + ref.confirmWithinMs - Date.now());
        applySteps.push(stepResult(argv, result));
        const failure = failedStep(result);
        if (failure !== undefined) {
          const outcome = await revertAtOnce(ref.checkpointId, { reason: 'apply-failed', detail: `apply command ${index + 1} (${argv.join(' ')}) ${failure}` });
          if (outcome.state === 'settled') return outcome;
          throw ApplicationFailure.create({ type: NETWORK_CHECKPOINT_ERRORS.CheckpointStuck, nonRetryable: true, message: 'the network checkpoint disappeared while reverting' });
        }
        // The timer may have settled it already (an apply slower than confirmWithin): stop and say what happened.
        if (!store.isArmed(ref.checkpointId)) {
          const outcome = await settled(ref.checkpointId, { reason: 'timer' }, revertLimitMs(input.revert.length));
          if (outcome.state === 'settled') return outcome;
        }
      }
      store.markApplied(ref.checkpointId);
      return { state: 'applied', checkpointId: ref.checkpointId, mode, armedAt: new Date(armedAt).toISOString(), deadlineAt: new Date(armedAt + ref.confirmWithinMs).toISOString(), sinceArmedMs: Date.now() - armedAt, applySteps };
    },

    /**
     * Runs only when this worker reached Temporal again after the change: runs the check, then confirms
     * (disarms) the checkpoint. Idempotent; when the timer won the race, reports the revert instead.
     */
    async networkChangeConfirm(inv: Invocation, ref: CheckpointRef): Promise<SettledResult> {
      const input = parseActionInput('host.network-change', NetworkChangeInput, inv.with);
      const state = store.read(ref.checkpointId);
      if (state.state === 'absent') return state;
      if (state.state === 'settled') return { state: 'settled', outcome: state.outcome };
      if (state.state === 'settling') return settled(ref.checkpointId, { reason: 'timer' }, revertLimitMs(state.record.revert.length));
      return confirm(inv, input, state.record);
    },

    /**
     * Runs when the host comes back after the workflow stopped waiting for its confirmation (the apply went
     * quiet, or the confirmation could not start in time). The worker reaching Temporal again is what a
     * confirmation proves, so a change applied in full and still before its deadline is confirmed here;
     * one past its deadline (or whose apply never finished by then) is reverted now. Otherwise it reports
     * how the checkpoint ended.
     */
    async networkChangeReport(inv: Invocation, ref: CheckpointRef): Promise<SettledResult> {
      const input = parseActionInput('host.network-change', NetworkChangeInput, inv.with);
      for (;;) {
        const state = store.read(ref.checkpointId);
        if (state.state === 'absent') return state;
        if (state.state === 'settled') return { state: 'settled', outcome: state.outcome };
        if (state.state === 'settling') return settled(ref.checkpointId, { reason: 'late' }, revertLimitMs(state.record.revert.length));
        const leftMs = Date.parse(state.record.deadlineAt) - Date.now();
        if (leftMs <= LATE_MARGIN_MS) return revertAtOnce(ref.checkpointId, { reason: 'late' });
        if (store.isApplied(ref.checkpointId)) return confirm(inv, input, state.record);
        // The apply is still running on this host (its heartbeats were lost on the way): wait for it, within the deadline.
        heartbeat({ checkpoint: 'applying' });
        await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
      }
    },
  };
}

export type NetworkCheckpointActivities = ReturnType<typeof createNetworkCheckpointActivities>;
