import { fleetLabUnavailable } from '../test/support/fleet-lab';
import { overlaps, readJournal } from '../test/support/fleet-trial-records';
import { canaryTrial, cutTrial, goneTrial, lockTrial, rebootTrial, restartTrial, startTrialsLab, type TrialFigures } from '../test/support/fleet-trials';

/**
 * The hard days of a fleet in figures (the fleet lab, slot 4; root only): per trial, how long until
 * the fault was noticed, how long from the repair until the task ran again, and the whole run, with
 * whether the trial came out right. The same trials are asserted by test/fleet-trials.test.ts.
 */

function seconds(ms: number | undefined): string {
  return ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`;
}

function line(name: string, outcome: string, figures: TrialFigures): string {
  return `${name.padEnd(40)} ${outcome.padEnd(44)} detect ${seconds(figures.detectMs).padStart(7)}  recover ${seconds(figures.recoverMs).padStart(7)}  total ${seconds(figures.totalMs).padStart(7)}`;
}

async function main(): Promise<void> {
  const unavailable = fleetLabUnavailable();
  if (unavailable) {
    console.log(`fleet trials skipped: ${unavailable}`);
    return;
  }
  const trials = await startTrialsLab();
  try {
    const canary = await canaryTrial(trials);
    console.log(line('canary, hv2 health check fails', `${canary.progress.state}; order ${canary.progress.rollback?.order.join(', ') ?? '-'}; hv3 ${canary.progress.targets[2]?.state ?? '?'}`, canary));

    const cut = await cutTrial(trials);
    const cutJournal = readJournal(trials.lab.host('hv3'), 'cut');
    console.log(line('hv3 cut past heartbeat timeout', `run ${cut.status.state}; stopped by ${cut.stoppedBy}; ${cutJournal.filter((entry) => entry.event === 'start').length} copies, ${overlaps(cutJournal).length} overlaps`, cut));

    const lock = await lockTrial(trials);
    console.log(line('two runs on hv1', `${lock.first.state}, ${lock.second.state}; second waited for ${lock.waiting?.waitingForHost?.host ?? 'nothing'}`, lock));

    const reboot = await rebootTrial(trials);
    console.log(line('hv2 rebooted (host.reboot) mid-rollout', `rollout ${reboot.progress.state}; ${String(reboot.hv2Step.tasks.find((task) => task.id === 'reboot')?.outputs?.proof ?? '?')}`, reboot));

    const restart = await restartTrial(trials);
    const restartJournal = readJournal(trials.lab.host('hv2'), 'restart');
    console.log(line('hv2 loses every process mid-rollout', `rollout ${restart.progress.state}; ${restartJournal.filter((entry) => entry.event === 'start').length} copies on hv2, ${overlaps(restartJournal).length} overlaps`, restart));
    const gone = await goneTrial(trials, { restore: false });
    const goneTask = gone.status.tasks.find((task) => task.id === 'long');
    console.log(line('hv2 worker gone for good', `run ${gone.status.state} ${seconds(gone.failedAfterMs)} after the kill: ${goneTask?.error?.type ?? '?'}`, gone));

    console.log("detect: cut or kill until Temporal ended the attempt (heartbeat timeout, or the restarted worker reporting it lost); recover: mend or worker start until the task ran again on the host (two runs: from the first run's tool ending to the second's starting; reboot: how long the host was down)");
  } finally {
    await trials.close();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
