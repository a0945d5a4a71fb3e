import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import * as path from 'node:path';
import { CheckpointStore, type RevertRequest } from './network-checkpoint-store';
import { revertEnvironment, runRevertSteps } from './network-steps';
import { nmRollback } from './network-manager';

/**
 * The revert timer of a network checkpoint: a process of its own session (setsid), outside the
 * worker's process group, so it outlives the worker and a cut network. It sleeps until the
 * checkpoint's deadline and then, unless the change was confirmed meanwhile, settles the checkpoint
 * as reverted and runs the revert commands. An early revert is asked for with a `revert-now` file.
 */

const POLL_MS = 200;

/** Starts the timer of an armed checkpoint; returns its pid. */
export function spawnRevertTimer(store: CheckpointStore, id: string): number {
  const script = require.resolve('./network-revert-timer');
  // Run from TypeScript sources (tests, the lab), the timer needs the TypeScript loader; it gets no other flag
  // and none of the worker's environment (where NODE_OPTIONS would otherwise carry the loader).
  const loader = script.endsWith('.ts') ? ['--require', require.resolve('tsx/cjs')] : [];
  const errors = openSync(path.join(store.directory, `${CheckpointStore.key(id)}.timer.log`), 'a', 0o600);
  try {
    const child = spawn(process.execPath, [...loader, script, store.directory, id], {
      // detached: setsid(), a session and process group of its own.
      detached: true,
      stdio: ['ignore', errors, errors],
      env: revertEnvironment(),
    });
    if (child.pid === undefined) throw new Error('could not start the revert timer');
    child.unref();
    return child.pid;
  } finally {
    closeSync(errors);
  }
}

/**
 * Gives every armed checkpoint of this host whose timer is gone (the host rebooted, or every process of it
 * was killed) a new timer with the same deadline: one past its deadline reverts at once. Returns their ids.
 */
export function resumeRevertTimers(store: CheckpointStore): string[] {
  const resumed = store.armedIds().filter((id) => !store.timerAlive(id));
  for (const id of resumed) store.recordTimer(id, spawnRevertTimer(store, id));
  return resumed;
}

/** Settles the checkpoint as reverted and runs its revert, when this caller wins the claim; false when it lost. */
export async function revertNow(store: CheckpointStore, id: string, request: RevertRequest): Promise<boolean> {
  const state = store.read(id);
  if (state.state === 'absent') return false;
  if (!store.claim(id, 'revert')) return false;
  const { record } = state;
  const at = new Date().toISOString();
  // Under nmcli, NetworkManager rolls its devices and connections back first; the revert commands still run
  // after it, for whatever NetworkManager does not manage.
  const rollback = record.mode === 'nmcli' && record.nmCheckpoint !== undefined ? [await nmRollback(record.nmCheckpoint)] : [];
  const steps = [...rollback, ...(await runRevertSteps(record.revert, record.logPath))];
  store.settle(id, { state: 'reverted', reason: request.reason, ...(request.detail === undefined ? {} : { detail: request.detail }), at, revertSteps: steps });
  return true;
}

async function main(directory: string, id: string): Promise<void> {
  const store = new CheckpointStore(directory);
  const state = store.read(id);
  if (state.state !== 'armed') return;
  // Measured on this process's own clock from now: a wall-clock step (NTP) cannot move the deadline.
  const remainingMs = Math.max(0, Date.parse(state.record.deadlineAt) - Date.now());
  const deadline = performance.now() + remainingMs;
  for (;;) {
    if (!store.isArmed(id)) return; // confirmed, or reverted by someone else
    const request = store.revertRequest(id);
    if (request) {
      await revertNow(store, id, request);
      return;
    }
    if (performance.now() >= deadline) {
      await revertNow(store, id, { reason: 'timer' });
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(1, deadline - performance.now()))));
  }
}

if (require.main === module) {
  const [directory, id] = process.argv.slice(2);
  if (!directory || !id) {
    console.error('usage: network-revert-timer CHECKPOINT_DIR CHECKPOINT_ID');
    process.exit(2);
  }
  main(directory, id).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`${new Date().toISOString()} network revert timer:`, error);
      process.exit(1);
    },
  );
}
