import { execFile } from 'node:child_process';
import { commandLine } from '../process/tool-process';
import { revertEnvironment } from './network-steps';
import type { StepResult } from './network-checkpoint-store';

/**
 * NetworkManager checkpoints over D-Bus (busctl; nmcli has no checkpoint command): CheckpointCreate
 * snapshots every device and rolls back by itself after a timeout unless destroyed. The revert timer
 * still decides when: it asks for the rollback at the deadline, and NetworkManager's own timeout
 * (a little later) only backs it up when the timer is gone.
 */

const NM = ['org.freedesktop.NetworkManager', '/org/freedesktop/NetworkManager'] as const;
const CALL_TIMEOUT_MS = 30_000;
// NM_CHECKPOINT_CREATE_FLAG_DELETE_NEW_CONNECTIONS | NM_CHECKPOINT_CREATE_FLAG_DISCONNECT_NEW_DEVICES: a rollback also
// removes the connections the change added (a new bridge and its port) and disconnects devices it brought up.
const CREATE_FLAGS = String(0x02 | 0x04);
/** NetworkManager's own rollback comes this long after the timer's deadline. */
export const NM_BACKSTOP_MS = 60_000;

function busctl(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string; error?: string }> {
  return new Promise((resolve) => {
    execFile('busctl', ['--system', ...args], { env: revertEnvironment(), timeout: CALL_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error && typeof error.code === 'string') resolve({ code: null, stdout, stderr, error: error.code });
      else resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** True when NetworkManager answers on the system bus. */
export async function networkManagerRunning(): Promise<boolean> {
  const result = await busctl(['get-property', ...NM, 'org.freedesktop.NetworkManager', 'Version']);
  return result.code === 0;
}

/** Creates a checkpoint of every device (an empty device list) that NetworkManager rolls back after `rollbackSeconds`; returns its object path. */
export async function nmCheckpointCreate(rollbackSeconds: number): Promise<string> {
  const result = await busctl(['call', ...NM, 'org.freedesktop.NetworkManager', 'CheckpointCreate', 'aouu', '0', String(Math.ceil(rollbackSeconds)), CREATE_FLAGS]);
  const match = /^o "(\/org\/freedesktop\/NetworkManager\/Checkpoint\/\d+)"/.exec(result.stdout.trim());
  if (result.code !== 0 || !match?.[1]) throw new Error(`NetworkManager CheckpointCreate failed: ${(result.stderr || result.error || result.stdout).trim()}`);
  return match[1];
}

/** Destroys a checkpoint (the change stays); true when NetworkManager still had it. */
export async function nmCheckpointDestroy(checkpoint: string): Promise<boolean> {
  const result = await busctl(['call', ...NM, 'org.freedesktop.NetworkManager', 'CheckpointDestroy', 'o', checkpoint]);
  return result.code === 0;
}

/** Rolls the devices back to the checkpoint now. */
export async function nmRollback(checkpoint: string): Promise<StepResult> {
  const args = ['call', ...NM, 'org.freedesktop.NetworkManager', 'CheckpointRollback', 'o', checkpoint];
  const result = await busctl(args);
  return { command: commandLine('busctl', ['--system', ...args]), exitCode: result.code, ...(result.error ? { error: result.error } : {}) };
}
