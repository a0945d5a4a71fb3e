import { readFileSync, readdirSync } from 'node:fs';

const POLL_MS = 50;

/** True while any process of the group is still running (zombies waiting to be reaped do not count). */
export function processGroupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    // EPERM: the group exists but belongs to someone else; treat it as alive.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
  return hasLiveMember(pgid);
}

/**
 * Killed members of the group are reparented to PID 1 and linger as zombies until it reaps them,
 * which some container inits do slowly or never; on Linux, look past them in /proc.
 */
function hasLiveMember(pgid: number): boolean {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true; // No /proc (not Linux): all we know is that the group exists.
  }
  return entries.some((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      return false; // Exited while we were looking.
    }
    // "pid (comm) state ppid pgrp ...": comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[2]) === pgid && fields[0] !== 'Z';
  });
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/**
 * Sends SIGTERM to a whole process group, then SIGKILL if any member is still there after
 * `graceMs`. Resolves once the group is gone or SIGKILL was sent.
 * The group id is the pid of a child spawned with `detached: true` (it leads its own group).
 */
export async function killProcessGroup(pgid: number, graceMs = 5_000): Promise<'terminated' | 'killed'> {
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!processGroupAlive(pgid)) return 'terminated';
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  if (!processGroupAlive(pgid)) return 'terminated';
  signalGroup(pgid, 'SIGKILL');
  return 'killed';
}

/** Pids of the group's live members whose environment carries `marker` (a `NAME=value` entry). */
export function markedMembers(pgid: number, marker: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const wanted = `\0${marker}\0`;
  return entries.flatMap((entry) => {
    if (!/^\d+$/.test(entry)) return [];
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid || fields[0] === 'Z') return [];
      return `\0${readFileSync(`/proc/${entry}/environ`, 'latin1')}`.includes(wanted) ? [Number(entry)] : [];
    } catch {
      return [];
    }
  });
}

/**
 * Stops a process group left behind by a dead worker, but only if it still holds a process carrying
 * the attempt's marker: a group id can be reused once its processes are gone, and a stranger's group
 * must never be killed. Resolves when no member is left (or after `waitMs`), saying what it found.
 */
export async function stopOrphanGroup(pgid: number, marker: string, waitMs = 15_000): Promise<'absent' | 'stopped' | 'still-running'> {
  if (markedMembers(pgid, marker).length === 0) return 'absent';
  await killProcessGroup(pgid, 2_000);
  const deadline = Date.now() + waitMs;
  while (processGroupAlive(pgid)) {
    if (Date.now() > deadline) return 'still-running';
    signalGroup(pgid, 'SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return 'stopped';
}
