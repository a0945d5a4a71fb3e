import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { DagRunStatus } from '../../workflows/run-status';
import type { RolloutProgress } from '../../workflows/rollback-status';
import { rolloutProgress } from '../../client/run-control';
import { getRunStatus } from '../../client/runs';
import { startFleetLab, type FleetLab } from './fleet-lab';
import { startTestEngine, type TestEngine } from './engine';
import { canaryDag, longTaskDag, REBOOT_STEP_DAG, STEP_DAG } from './fleet-trial-dags';
import { clearTrials, historyAttempts, readJournal, setUnhealthy, type HistoryAttempt } from './fleet-trial-records';
import { taskOf, until } from './waiting';

/**
 * The hard days of a fleet, as trials in the fleet lab that both test/fleet-trials.test.ts and
 * bench/fleet-trials.ts run: a canary rollout whose health check fails on hv2, a host cut off the
 * network while a long task runs, a host losing every process mid-rollout. Every tool the trials run
 * keeps a journal in its host's own data directory (what it started, with its pid and the time, and
 * whether an earlier copy was still alive when it started), so each trial is judged from the hosts'
 * side as well as from the run's status and history.
 */

/** The lab slot of the trials (infra/lab/fleet-lib.sh): addresses 10.231.4.0/24, data in .data/lab4. */
export const TRIALS_SLOT = 4;

/** Figures of one trial, in milliseconds. */
export interface TrialFigures {
  /** From the fault (cut, kill) until the fleet noticed it (the attempt declared lost). */
  detectMs?: number;
  /** From the repair (mend, restart) until the task ran again on the host. */
  recoverMs?: number;
  totalMs: number;
}

/** The lab of the trials with its control plane: lab slot 4, three hosts, a worker on each, running the sources under test. */
export interface TrialsLab {
  lab: FleetLab;
  engine: TestEngine;
  close(): Promise<void>;
}

export async function startTrialsLab(): Promise<TrialsLab> {
  const lab = await startFleetLab({ hosts: 3, slot: TRIALS_SLOT });
  // The host workers must run the code under test, not a dist/ build that may be older.
  lab.env.QUBINODE_FROM_SOURCES = '1';
  let engine: TestEngine | undefined;
  try {
    engine = await startTestEngine({ env: lab.env });
    await Promise.all(lab.hosts.map((host) => lab.startWorker(host.name)));
  } catch (error) {
    await engine?.close();
    await lab.close();
    throw error;
  }
  const started = engine;
  return {
    lab,
    engine: started,
    close: async () => {
      await started.close();
      await lab.close();
    },
  };
}

export interface CanaryTrial extends TrialFigures {
  status: DagRunStatus;
  progress: RolloutProgress;
}

/** Trial 1: hv2's health check fails after its batch; the rollout rolls back hv2 then hv1 and never reaches hv3. */
export async function canaryTrial(trials: TrialsLab): Promise<CanaryTrial> {
  const { lab, engine } = trials;
  clearTrials(lab);
  setUnhealthy(lab.host('hv2'), true);
  try {
    const started = Date.now();
    const dag = engine.compile(canaryDag({ id: 'trial-canary', trial: 'canary', hold: '0.2', healthCheck: true, timeout: '120s' }), { 'trial-step': STEP_DAG });
    const status = await engine.run(dag);
    const progress = await rolloutProgress(engine.client, taskOf(status, 'roll').childRunId ?? '');
    return { status, progress, totalMs: Date.now() - started };
  } finally {
    setUnhealthy(lab.host('hv2'), false);
  }
}

export interface CutTrial extends TrialFigures {
  status: DagRunStatus;
  attempts: HistoryAttempt[];
  /**
   * What stopped the cut-off copy: `cancel` when its worker heard, once the link mended, that the
   * attempt was given up on; `takeover` when the retry reached the worker first and stopped it.
   */
  stoppedBy: 'cancel' | 'takeover';
  cutAtMs: number;
  mendAtMs: number;
}

/**
 * Trial 2: hv3's link is cut while a long task runs there, and mended once Temporal declared the
 * attempt lost by its heartbeat timeout; the run must finish with the task run again on hv3. The tool
 * takes 8 s to stop after SIGTERM, longer than the retry takes to reach the worker once the link
 * mends, so the old copy is still there when the retry arrives unless the retry stops it first.
 */
export async function cutTrial(trials: TrialsLab): Promise<CutTrial> {
  const { lab, engine } = trials;
  clearTrials(lab);
  const hv3 = lab.host('hv3');
  const workerLog = path.join(hv3.logDir, 'worker.log');
  const logOffset = existsSync(workerLog) ? readFileSync(workerLog).length : 0;
  const started = Date.now();
  const runId = await engine.start(engine.compile(longTaskDag({ id: 'trial-cut', host: 'hv3', trial: 'cut', hold: 150, again: 2, timeout: '170s', slowStop: 8 })));
  await until(() => readJournal(hv3, 'cut').some((line) => line.event === 'start'), 60_000, 'the long task to start on hv3');
  await lab.cut('hv3');
  const cutAtMs = Date.now();
  let mendAtMs = 0;
  try {
    await until(async () => (await historyAttempts(engine, runId, 'long')).some((attempt) => attempt.ending?.startsWith('timed-out')), 90_000, 'Temporal to declare hv3\'s attempt lost');
  } finally {
    await lab.mend('hv3');
    mendAtMs = Date.now();
  }
  const status = await engine.wait(runId);
  const attempts = await historyAttempts(engine, runId, 'long');
  const lost = attempts.find((attempt) => attempt.ending?.startsWith('timed-out'));
  const rerun = readJournal(hv3, 'cut').filter((line) => line.event === 'start')[1];
  const takeover = existsSync(workerLog) && readFileSync(workerLog).subarray(logOffset).toString().includes('a new attempt took over');
  return {
    status,
    attempts,
    stoppedBy: takeover ? 'takeover' : 'cancel',
    cutAtMs,
    mendAtMs,
    ...(lost?.endedAtMs === undefined ? {} : { detectMs: lost.endedAtMs - cutAtMs }),
    ...(rerun === undefined ? {} : { recoverMs: rerun.atMs - mendAtMs }),
    totalMs: Date.now() - started,
  };
}

export interface RestartTrial extends TrialFigures {
  status: DagRunStatus;
  progress: RolloutProgress;
  /** The attempts of hv2's update step, from its step run's history. */
  attempts: HistoryAttempt[];
  killedAtMs: number;
  restartedAtMs: number;
}

/** Trial 5: every process of hv2 dies while its update step runs mid-rollout, and its worker starts again. */
export async function restartTrial(trials: TrialsLab): Promise<RestartTrial> {
  const { lab, engine } = trials;
  clearTrials(lab);
  const hv2 = lab.host('hv2');
  const started = Date.now();
  const dag = engine.compile(canaryDag({ id: 'trial-restart', trial: 'restart', hold: '3', healthCheck: true, timeout: '150s' }), { 'trial-step': STEP_DAG });
  const runId = await engine.start(dag);
  await until(() => readJournal(hv2, 'restart').some((line) => line.event === 'start'), 90_000, 'the update step to start on hv2');
  await lab.killHost('hv2');
  const killedAtMs = Date.now();
  await lab.startWorker('hv2');
  const restartedAtMs = Date.now();
  const status = await engine.wait(runId);
  const progress = await rolloutProgress(engine.client, taskOf(status, 'roll').childRunId ?? '');
  const rerun = readJournal(hv2, 'restart').filter((line) => line.event === 'start')[1];
  // The lost attempt ends in hv2's step run when the restarted worker reports it lost (or its heartbeat timeout passes).
  const stepRun = progress.targets.find((target) => target.name === 'hv2')?.childRunId;
  const attempts = stepRun ? await historyAttempts(engine, stepRun, 'apply') : [];
  const lost = attempts.find((attempt) => attempt.ending !== 'completed' && attempt.endedAtMs !== undefined);
  return {
    status,
    progress,
    attempts,
    killedAtMs,
    restartedAtMs,
    ...(lost?.endedAtMs === undefined ? {} : { detectMs: lost.endedAtMs - killedAtMs }),
    ...(rerun === undefined ? {} : { recoverMs: rerun.atMs - restartedAtMs }),
    totalMs: Date.now() - started,
  };
}

export interface RebootTrial extends TrialFigures {
  status: DagRunStatus;
  progress: RolloutProgress;
  /** hv2's step run: the reboot task's outputs (proof, downForMs, workers before and after). */
  hv2Step: DagRunStatus;
}

/** Trial 5: hv2 reboots (host.reboot) inside its step of a canary rollout; hv3 goes on only once hv2 is back. */
export async function rebootTrial(trials: TrialsLab): Promise<RebootTrial> {
  const { lab, engine } = trials;
  clearTrials(lab);
  const started = Date.now();
  const dag = engine.compile(canaryDag({ id: 'trial-reboot', trial: 'reboot', hold: '0.2', healthCheck: true, timeout: '240s', rebootOn: 'hv2' }), { 'trial-step': REBOOT_STEP_DAG });
  const status = await engine.run(dag);
  const progress = await rolloutProgress(engine.client, taskOf(status, 'roll').childRunId ?? '');
  const hv2Step = await getRunStatus(engine.client, progress.targets.find((target) => target.name === 'hv2')?.childRunId ?? '');
  const downForMs = taskOf(hv2Step, 'reboot').outputs?.downForMs;
  return { status, progress, hv2Step, ...(typeof downForMs === 'number' ? { recoverMs: downForMs } : {}), totalMs: Date.now() - started };
}

export interface GoneTrial extends TrialFigures {
  status: DagRunStatus;
  attempts: HistoryAttempt[];
  /** From the kill until the run failed. */
  failedAfterMs: number;
}

/**
 * Trial 3: every process of hv2 dies while a long task runs there and its worker never comes back.
 * The attempt is lost by its heartbeat timeout, the task is scheduled again, waits `workerWait` (10 s)
 * for a worker on hv2 and fails saying so. With `restore`, hv2's worker is started again afterwards.
 */
export async function goneTrial(trials: TrialsLab, options: { restore: boolean }): Promise<GoneTrial> {
  const { lab, engine } = trials;
  clearTrials(lab);
  const hv2 = lab.host('hv2');
  const started = Date.now();
  const runId = await engine.start(engine.compile(longTaskDag({ id: 'trial-gone', host: 'hv2', trial: 'gone', hold: 600, again: 600, timeout: '170s', workerWait: '10s' })));
  await until(() => readJournal(hv2, 'gone').some((line) => line.event === 'start'), 60_000, 'the long task to start on hv2');
  await lab.killHost('hv2');
  const killedAtMs = Date.now();
  try {
    const status = await engine.wait(runId);
    const failedAfterMs = Date.now() - killedAtMs;
    const attempts = await historyAttempts(engine, runId, 'long');
    const lost = attempts.find((attempt) => attempt.ending?.startsWith('timed-out:TIMEOUT_TYPE_HEARTBEAT'));
    return { status, attempts, failedAfterMs, ...(lost?.endedAtMs === undefined ? {} : { detectMs: lost.endedAtMs - killedAtMs }), totalMs: Date.now() - started };
  } finally {
    if (options.restore) await lab.startWorker('hv2');
  }
}

export interface LockTrial extends TrialFigures {
  first: DagRunStatus;
  second: DagRunStatus;
  firstRunId: string;
  secondRunId: string;
  /** The second run's status while it waited (undefined if it was never seen waiting). */
  waiting?: DagRunStatus;
}

/** Trial 4: two runs of different DAGs on hv1 at once; the second waits for hv1, held by the first, and runs after it. */
export async function lockTrial(trials: TrialsLab): Promise<LockTrial> {
  const { lab, engine } = trials;
  clearTrials(lab);
  const hv1 = lab.host('hv1');
  const started = Date.now();
  const firstRunId = await engine.start(engine.compile(longTaskDag({ id: 'trial-lock-first', host: 'hv1', trial: 'lock', hold: 6, again: 1, timeout: '120s' })));
  await until(() => readJournal(hv1, 'lock').some((line) => line.event === 'start'), 60_000, 'the first run\'s task to start on hv1');
  const secondRunId = await engine.start(engine.compile(longTaskDag({ id: 'trial-lock-second', host: 'hv1', trial: 'lock', hold: 1, again: 1, timeout: '120s' })));
  let waiting: DagRunStatus | undefined;
  await until(
    async () => {
      const status = await getRunStatus(engine.client, secondRunId).catch(() => undefined);
      if (status?.waitingForHost) waiting = status;
      return waiting !== undefined || readJournal(hv1, 'lock').filter((line) => line.event === 'start').length > 1 || (status !== undefined && status.state !== 'running');
    },
    60_000,
    'the second run to wait for hv1 or start',
  );
  const first = await engine.wait(firstRunId);
  const second = await engine.wait(secondRunId);
  const starts = readJournal(hv1, 'lock').filter((line) => line.event === 'start');
  const firstEnd = readJournal(hv1, 'lock').find((line) => line.event === 'end' && line.pid === starts[0]?.pid);
  return {
    first,
    second,
    firstRunId,
    secondRunId,
    ...(waiting === undefined ? {} : { waiting }),
    // How long after the first run's tool ended the second one's began: the hand-over of hv1.
    ...(firstEnd === undefined || starts[1] === undefined ? {} : { recoverMs: starts[1].atMs - firstEnd.atMs }),
    totalMs: Date.now() - started,
  };
}
