/**
 * The background tool install that `npm start` leaves running (infra/setup-tools.sh): its status file, what
 * each tool waits for, and how a task waits for a tool that is still being installed.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { PROJECT_ROOT } from './project-root';

/** Written by infra/setup-tools.sh; in the checkout (its tools are the checkout's), whatever QUBINODE_DATA_DIR says. */
export const SETUP_STATUS_FILE = path.join(PROJECT_ROOT, '.data', 'setup', 'status.json');

const GroupState = z.enum(['pending', 'installing', 'done', 'failed', 'skipped']);

export const ToolInstallStatus = z.object({
  version: z.literal(1),
  pid: z.number().int().positive(),
  state: z.enum(['installing', 'done', 'failed', 'stopped']),
  startedAt: z.string().max(40),
  updatedAt: z.string().max(40),
  current: z.string().max(40).nullable().optional(),
  groups: z.record(z.string().max(40), GroupState).default({}),
  message: z.string().max(2000).optional(),
  log: z.string().max(4096).optional(),
});
export type ToolInstallStatus = z.infer<typeof ToolInstallStatus>;

/** Which install group brings a tool (the groups of infra/setup-tools.sh). */
export const TOOL_GROUPS: Readonly<Record<string, string>> = {
  'ansible-navigator': 'ansible',
  'ansible-playbook': 'ansible',
  'ansible-galaxy': 'ansible',
  kcli: 'kcli',
};

/** The status as the installer last wrote it; undefined when there is none or it is not one (never thrown). */
export function readToolInstall(file = SETUP_STATUS_FILE): ToolInstallStatus | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  if (text.length > 64 * 1024) return undefined;
  try {
    const parsed = ToolInstallStatus.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether an install is under way: said so by its status, and its process still runs (a killed one says nothing). */
export function installRunning(status: ToolInstallStatus | undefined): status is ToolInstallStatus {
  return status?.state === 'installing' && alive(status.pid);
}

/** Whether `tool` is still to come from a running install (its group not finished yet). */
export function toolStillInstalling(tool: string, status: ToolInstallStatus | undefined): boolean {
  if (!installRunning(status)) return false;
  const group = TOOL_GROUPS[tool];
  if (group === undefined) return false;
  const state = status.groups[group];
  return state === undefined || state === 'pending' || state === 'installing';
}

/** One line about an install, for people: `installing (kcli; done: ansible) since …, log …`. */
export function describeToolInstall(status: ToolInstallStatus): string {
  const done = Object.entries(status.groups)
    .filter(([, state]) => state === 'done')
    .map(([group]) => group);
  const failed = Object.entries(status.groups)
    .filter(([, state]) => state === 'failed')
    .map(([group]) => group);
  const running = status.state === 'installing' && !alive(status.pid) ? 'interrupted' : status.state;
  const parts = [
    running,
    status.current ? `now: ${status.current}` : undefined,
    done.length > 0 ? `done: ${done.join(', ')}` : undefined,
    failed.length > 0 ? `failed: ${failed.join(', ')}` : undefined,
    `since ${status.startedAt}`,
  ].filter(Boolean);
  return `${parts.join('; ')}${status.message ? ` (${status.message})` : ''}${status.log ? `; log ${status.log}` : ''}`;
}

export class ToolInstallTimeoutError extends Error {
  override readonly name = 'ToolInstallTimeoutError';
  constructor(
    readonly tool: string,
    readonly waitedMs: number,
    status: ToolInstallStatus,
  ) {
    super(`${tool} is still being installed in the background after ${Math.round(waitedMs / 1000)} s of waiting: ${describeToolInstall(status)}; see \`qubinode doctor\`, or run \`bash infra/setup.sh --all\``);
  }
}

export interface ToolWaitOptions {
  /** How long to wait for a running install (default 15 minutes). */
  timeoutMs?: number;
  pollMs?: number;
  /** Called on each poll while waiting (an activity heartbeats here). */
  onWait?: (status: ToolInstallStatus) => void;
  /** Stops the wait (an activity's cancellation). */
  signal?: AbortSignal;
  statusFile?: string;
}

export const DEFAULT_TOOL_WAIT_MS = 15 * 60_000;

/**
 * Waits while a running background install has yet to bring `tool`; returns at once when none does.
 * Throws ToolInstallTimeoutError after `timeoutMs`, and the signal's reason when it is aborted.
 */
export async function waitForToolInstall(tool: string, options: ToolWaitOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TOOL_WAIT_MS;
  const pollMs = options.pollMs ?? 1000;
  const started = Date.now();
  for (;;) {
    const status = readToolInstall(options.statusFile);
    if (!toolStillInstalling(tool, status)) return;
    if (Date.now() - started >= timeoutMs) throw new ToolInstallTimeoutError(tool, Date.now() - started, status as ToolInstallStatus);
    options.signal?.throwIfAborted();
    options.onWait?.(status as ToolInstallStatus);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
