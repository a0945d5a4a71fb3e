import { readFileSync } from 'node:fs';
import { startCrashLab, workerKillTrial, type WorkerKillTrial } from '../test/support/crash-lab';
import { until } from '../test/support/waiting';

/**
 * Crash durability in figures: a worker (workflows and activities in one process) is killed with
 * SIGKILL at a random point of a 6-task chain of 2 s shell tasks with no retry settings, and started
 * again; then the Temporal dev server is killed the same way mid-run and restarted on its database.
 * Prints trial counts, how many runs completed, how long until the run moved again, and the worker's idle RSS.
 */

const TRIALS = Number(process.env.BENCH_CRASH_TRIALS ?? 5);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function describe(label: string, values: number[]): string {
  return values.length ? `${label}: median ${percentile(values, 50)} ms, max ${Math.max(...values)} ms (n=${values.length})` : `${label}: no samples`;
}

function idleRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

async function main(): Promise<void> {
  const lab = await startCrashLab();
  const trials: WorkerKillTrial[] = [];
  try {
    const idle = await lab.startWorker();
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    console.log(`worker idle RSS after start: ${idleRssMb(idle.pid)} MB (ready in ${idle.readyMs} ms)`);
    await lab.killWorker(idle);
    for (let index = 0; index < TRIALS; index += 1) {
      const task = `t${1 + Math.floor(Math.random() * 6)}`;
      const afterMs = Math.floor(Math.random() * 2_000);
      const trial = await workerKillTrial(lab, { tasks: 6, seconds: 2, killWhen: { task, afterMs } });
      trials.push(trial);
      console.log(`trial ${index + 1}: kill ${afterMs} ms into ${task}: run ${trial.status.state}; lost ${trial.lostTask ?? 'nothing'}; orphan stopped ${trial.orphanStoppedMs ?? '-'} ms after the kill; completed tasks run again: ${trial.rerunCompleted.length}; worker ready ${trial.restartReadyMs} ms, run moving ${trial.recoveryMs ?? '?'} ms after restart`);
    }
  } finally {
    await lab.close();
  }
  const completed = trials.filter((trial) => trial.status.state === 'succeeded').length;
  console.log(`worker SIGKILL: ${completed}/${trials.length} runs completed; ${trials.filter((trial) => trial.rerunCompleted.length > 0).length} ran a completed task again`);
  console.log(describe('  new worker ready after spawn', trials.map((trial) => trial.restartReadyMs)));
  console.log(describe('  run moving again after spawn', trials.flatMap((trial) => (trial.recoveryMs === undefined ? [] : [trial.recoveryMs]))));
  console.log(describe('  orphaned tool stopped after the kill', trials.flatMap((trial) => (trial.orphanStoppedMs === undefined ? [] : [trial.orphanStoppedMs]))));

  const serverLab = await startCrashLab({ ownServer: true });
  try {
    const worker = await serverLab.startWorker();
    const runId = await serverLab.startChain(4, 2);
    await until(() => serverLab.markers().some((m) => m.task === 't2' && m.event === 'start'), 30_000, 't2 to start');
    await serverLab.killServer();
    const restartAt = Date.now();
    await serverLab.startServer();
    const serverUp = Date.now() - restartAt;
    const status = await serverLab.waitForRun(runId);
    const starts = serverLab.markers().filter((m) => m.event === 'start').length;
    console.log(`server SIGKILL: run ${status.state}; server back in ${serverUp} ms; ${starts} task starts for 4 tasks`);
    await serverLab.killWorker(worker);
  } finally {
    await serverLab.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
