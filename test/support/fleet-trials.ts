import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { temporal } from '@temporalio/proto';
import type { DagRunStatus } from '../../workflows/run-status';
import type { RolloutProgress } from '../../workflows/rollback-status';
import { rolloutProgress } from '../../client/run-control';
import { getRunStatus } from '../../client/runs';
import { startFleetLab, type FleetLab, type LabHost } from './fleet-lab';
import { startTestEngine, type TestEngine } from './engine';
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

/** One line a trial's tool wrote on its host: `<event> <pid> <epoch ns> [another pid]`. */
export interface JournalLine {
  event: 'start' | 'end' | 'term' | 'alive' | 'apply' | 'undo' | 'after';
  pid: number;
  atMs: number;
  /** For `alive`: the earlier copy's pid, still running when this one started; for `start` and `after`: the worker's pid. */
  other?: number;
}

const EVENTS = new Set<string>(['start', 'end', 'term', 'alive', 'apply', 'undo', 'after']);

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

/**
 * Shell lines every trial tool starts with: its journal, and a look at every copy that started before
 * it on this host; one still alive is written down as `alive`, which no trial tolerates.
 * TRIAL reaches the script as an environment variable, never as script text.
 */
const JOURNAL_PRELUDE = `j="$QUBINODE_DATA_DIR/trials/$TRIAL.journal"
mkdir -p "$QUBINODE_DATA_DIR/trials"
now() { date +%s%N; }
if [ -f "$j" ]; then
  for p in $(awk '$1 == "start" { print $2 }' "$j"); do
    if kill -0 "$p" 2>/dev/null; then echo "alive $$ $(now) $p" >> "$j"; fi
  done
fi`;

/** Indents a block of text for a YAML block scalar. */
function indent(text: string, spaces: number): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? line : `${' '.repeat(spaces)}${line}`))
    .join('\n');
}

/**
 * A long task on one host. The first copy holds for `hold` seconds; a copy that finds an earlier start
 * in the journal is the run's retry and holds `again` seconds. SIGTERM is written down before it exits.
 */
export function longTaskDag(options: { id: string; host: string; trial: string; hold: number; again: number; timeout: string }): string {
  const script = `${JOURNAL_PRELUDE}
hold="$HOLD"
if grep -q '^start ' "$j"; then hold="$AGAIN"; fi
echo "start $$ $(now)" >> "$j"
trap 'echo "term $$ $(now)" >> "$j"; exit 143' TERM
sleep "$hold" & wait $!
echo "end $$ $(now)" >> "$j"`;
  return `id: ${options.id}
timeout: ${options.timeout}
tasks:
  - id: long
    uses: shell
    runsOn: ${options.host}
    with:
      env:
        TRIAL: ${options.trial}
        HOLD: "${options.hold}"
        AGAIN: "${options.again}"
      script: |
${indent(script, 8)}
`;
}

/** The update task of the rollout trials' step DAGs: holds a while, then leaves a marker its compensation removes. */
const APPLY_TASK = `  - id: apply
    uses: shell
    runsOn: \${{ params.queue }}
    with:
      env:
        TRIAL: \${{ params.trial }}
        HOLD: \${{ params.hold }}
      script: |
${indent(`${JOURNAL_PRELUDE}
echo "start $$ $(now) $PPID" >> "$j"
trap 'echo "term $$ $(now)" >> "$j"; exit 143' TERM
sleep "$HOLD" & wait $!
: > "$QUBINODE_DATA_DIR/trials/$TRIAL.updated"
echo "apply $$ $(now)" >> "$j"`, 8)}
    compensate:
      uses: shell
      with:
        env:
          TRIAL: \${{ params.trial }}
        script: |
          j="$QUBINODE_DATA_DIR/trials/$TRIAL.journal"
          rm -f "$QUBINODE_DATA_DIR/trials/$TRIAL.updated"
          echo "undo $$ $(date +%s%N)" >> "$j"`;

const STEP_PARAMS = `params:
  target: { type: string }
  queue: { type: string }
  trial: { type: string, required: true }
  hold: { type: string, default: "0.2" }
  reboot_on: { type: string, default: none }`;

/**
 * The per-host update step of the rollout trials: `apply` holds a while, then leaves a marker in the
 * host's data directory; its compensation removes the marker. Both write to the host's journal.
 */
export const STEP_DAG = `id: trial-step
${STEP_PARAMS}
tasks:
${APPLY_TASK}
`;

/**
 * The step of the reboot trial: the update, then `host.reboot` on the host named by `reboot_on` only
 * (waiting for its worker to come back and checking the update's marker is there), then a task that
 * notes which worker process ran it.
 */
export const REBOOT_STEP_DAG = `id: trial-step
${STEP_PARAMS}
tasks:
${APPLY_TASK}
  - id: reboot
    uses: host.reboot
    runsOn: \${{ params.queue }}
    needs: [apply]
    when: \${{ params.target == params.reboot_on }}
    with:
      drain: { mode: none }
      waitFor: 2m
      verify: { command: [sh, -c, 'test -e "$QUBINODE_DATA_DIR/trials/reboot.updated"'] }
  - id: after
    uses: shell
    runsOn: \${{ params.queue }}
    needs: [reboot]
    trigger: none_failed
    with:
      env:
        TRIAL: \${{ params.trial }}
      script: |
        echo "after $$ $(date +%s%N) $PPID" >> "$QUBINODE_DATA_DIR/trials/$TRIAL.journal"
`;

/** A canary rollout of STEP_DAG over hv1 | hv2 | hv3, optionally with the shell health check after each batch. */
export function canaryDag(options: { id: string; trial: string; hold: string; healthCheck: boolean; timeout: string; rebootOn?: string }): string {
  const analysis = options.healthCheck
    ? `
      analysis:
        checks:
          - uses: shell
            with:
              script: test ! -e "$QUBINODE_DATA_DIR/trials/unhealthy"`
    : '';
  return `id: ${options.id}
timeout: ${options.timeout}
tasks:
  - id: roll
    uses: rollout
    with:
      dag: trial-step
      targets: [hv1, hv2, hv3]
      strategy: canary
      steps: [1, 2, 3]
      params:
        trial: ${options.trial}
        hold: "${options.hold}"${options.rebootOn === undefined ? '' : `\n        reboot_on: ${options.rebootOn}`}${analysis}
`;
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
 * attempt lost by its heartbeat timeout; the run must finish with the task run again on hv3.
 */
export async function cutTrial(trials: TrialsLab): Promise<CutTrial> {
  const { lab, engine } = trials;
  clearTrials(lab);
  const hv3 = lab.host('hv3');
  const workerLog = path.join(hv3.logDir, 'worker.log');
  const logOffset = existsSync(workerLog) ? readFileSync(workerLog).length : 0;
  const started = Date.now();
  const runId = await engine.start(engine.compile(longTaskDag({ id: 'trial-cut', host: 'hv3', trial: 'cut', hold: 150, again: 2, timeout: '170s' })));
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
