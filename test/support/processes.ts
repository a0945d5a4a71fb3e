import { existsSync, readFileSync } from 'node:fs';

/** Whether a process is running; zombies count as gone (this machine's init may never reap orphans). */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return !existsSync('/proc/self/stat'); // Exited meanwhile, or no /proc: trust kill(0).
  }
}

/** Waits until none of the pids is running; false when one still is at the deadline. */
export async function allGone(pids: readonly number[], withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (!pids.some(isProcessRunning)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !pids.some(isProcessRunning);
}
