import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { tsToMs } from '@temporalio/common/lib/time';
import { loadConfig, PROJECT_ROOT, type QubinodeConfig } from '../../config/config';
import { createLogger } from '../../config/logger';
import { connectClient, type TemporalClient } from '../../config/temporal-connection';
import { getRunStatus, startRun } from '../../client/runs';
import { ActionRegistry } from '../../dag-repos/actions/registry';
import { compileDagFile } from '../../dag-repos/compiler/compile';
import { registerSearchAttributes } from '../../infra/search-attributes';
import { ensureTemporalServer, isListening, type TemporalServerHandle } from '../../infra/temporal-dev-server';
import type { DagRunStatus } from '../../workflows/run-status';
import { allGone, isProcessRunning } from './processes';
import { until } from './waiting';
import { testWorkflowBundle } from './workflow-bundle';

/**
 * A crash lab: worker processes that can be killed with SIGKILL and started again, running a chain of
 * shell tasks that write what they do to a marker file; optionally a Temporal dev server of its own
 * (its own port and database) that can be killed too. Shared by the crash tests and `npm run bench`.
 */

export interface Marker {
  event: 'start' | 'end';
  task: string;
  pid: number;
  atMs: number;
}

export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  /** Milliseconds from spawn until the worker said it polls. */
  readyMs: number;
  startedAt: number;
}

export interface CrashLab {
  config: QubinodeConfig;
  client: TemporalClient;
  markerFile: string;
  /** A data directory for a worker that is not the first worker's successor on its host. */
  otherHostDir: string;
  /** Starts a worker; `dataDir` gives it a ledger of its own (another host, in effect). */
  startWorker(options?: { dataDir?: string }): Promise<WorkerProcess>;
  /** Starts the product as a user does, `npm start` (API, worker and audit worker in one process); pid is that process. */
  startProduct(): Promise<WorkerProcess>;
  killWorker(worker: WorkerProcess): Promise<void>;
  /** Starts a chain of `tasks` shell tasks of `seconds` each, with no retry settings. */
  startChain(tasks: number, seconds: number): Promise<string>;
  markers(): Marker[];
  waitForRun(runId: string, timeoutMs?: number): Promise<DagRunStatus>;
  /** Kills the lab's own Temporal server with SIGKILL (only with `ownServer`). */
  killServer(): Promise<void>;
  startServer(): Promise<void>;
  close(): Promise<void>;
}

const logger = createLogger('error', 'crash-lab');
const lastPort = { value: 7300 + (process.pid % 200) * 2 };

function chainYaml(id: string, tasks: number, seconds: number, markerFile: string): string {
  const quoted = JSON.stringify(markerFile);
  const lines = Array.from({ length: tasks }, (_, index) => {
    const needs = index > 0 ? `\n    needs: t${index}` : '';
    const script = `echo "start t${index + 1} $$ $(date +%s%3N)" >> ${quoted}\\nsleep ${seconds}\\necho "end t${index + 1} $$ $(date +%s%3N)" >> ${quoted}\\n`;
    return `  - id: t${index + 1}\n    uses: shell${needs}\n    with:\n      script: "${script.replace(/"/g, '\\"')}"`;
  });
  return `id: ${id}\ntasks:\n${lines.join('\n')}\n`;
}

/** The `qubinode up` process among the descendants of `root` (npm, its shell, then node). */
function productPid(root: number): number | undefined {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift() as number;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((arg) => arg.endsWith('bin/qubinode.js'))) return pid;
    } catch {
      // exited meanwhile
    }
    queue.push(...(children.get(pid) ?? []));
  }
  return undefined;
}

export async function startCrashLab(options: { ownServer?: boolean } = {}): Promise<CrashLab> {
  const dir = mkdtempSync(path.join(tmpdir(), 'qubinode-crash-'));
  const markerFile = path.join(dir, 'markers');
  const otherHostDir = path.join(dir, 'other-host');
  const taskQueue = `crash-${randomUUID().slice(0, 8)}`;
  lastPort.value += 2;
  const serverPort = lastPort.value;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    QUBINODE_TASK_QUEUE: taskQueue,
    QUBINODE_DATA_DIR: path.join(dir, 'data'),
    QUBINODE_LOG_DIR: path.join(dir, 'logs'),
    QUBINODE_AI_ANALYSIS: 'rules',
    ...(options.ownServer ? { TEMPORAL_ADDRESS: `127.0.0.1:${serverPort}`, QUBINODE_TEMPORAL_PORT: String(serverPort), QUBINODE_TEMPORAL_UI_PORT: String(serverPort + 1) } : {}),
  };
  const config = loadConfig(env);
  let server: TemporalServerHandle | undefined = await ensureTemporalServer(config, logger, { detach: true });
  const client = await connectClient(config.temporal);
  await registerSearchAttributes(client.connection, config.temporal.namespace);
  await testWorkflowBundle(); // built before any worker starts, so a restart never bundles
  const workers = new Set<ChildProcess>();
  // A test file that times out never reaches close(): its workers and server must not outlive it.
  const killEverything = (): number[] => {
    const pids: number[] = [];
    for (const child of workers) {
      if (child.pid !== undefined) pids.push(child.pid);
      try {
        process.kill(-(child.pid as number), 'SIGKILL'); // npm start runs as a group of its own
      } catch {
        child.kill('SIGKILL');
      }
    }
    if (options.ownServer && server?.pid) {
      pids.push(server.pid);
      try {
        process.kill(-server.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    return pids;
  };
  process.once('exit', killEverything);

  const startWorker = async (options: { dataDir?: string } = {}): Promise<WorkerProcess> => {
    const startedAt = Date.now();
    const workerEnv = options.dataDir ? { ...env, QUBINODE_DATA_DIR: options.dataDir } : env;
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'test', 'support', 'worker-process.ts')], { cwd: PROJECT_ROOT, env: workerEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    workers.add(child);
    let output = '';
    child.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('worker ready')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${output}`)));
    });
    return { child, pid: child.pid as number, readyMs: Date.now() - startedAt, startedAt };
  };

  const startProduct = async (): Promise<WorkerProcess> => {
    const startedAt = Date.now();
    const child = spawn('npm', ['start'], { cwd: PROJECT_ROOT, env: { ...env, CI: 'true', QUBINODE_API_PORT: String(serverPort + 1000) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    workers.add(child);
    let output = '';
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-8000);
    };
    child.stderr?.on('data', collect);
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        collect(chunk);
        if (output.includes('Qubinode Navigator is up.')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`npm start exited with ${code}: ${output}`)));
    });
    const pid = productPid(child.pid as number);
    if (pid === undefined) throw new Error('cannot find the qubinode process under npm start');
    return { child, pid, readyMs: Date.now() - startedAt, startedAt };
  };

  const killWorker = async (worker: WorkerProcess): Promise<void> => {
    process.kill(worker.pid, 'SIGKILL');
    // npm and its shell go too, as when an operator's terminal or the machine dies.
    if (worker.child.pid !== undefined && worker.child.pid !== worker.pid) {
      try {
        process.kill(-worker.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await until(() => !isProcessRunning(worker.pid), 10_000, 'the killed worker to be gone');
    workers.delete(worker.child);
  };

  const registry = new ActionRegistry();
  return {
    config,
    client,
    markerFile,
    otherHostDir,
    startWorker,
    startProduct,
    killWorker,
    startChain: async (tasks, seconds) => {
      const dag = compileDagFile({ repo: 'crash', path: 'chain.yaml', commit: 'test', text: chainYaml('crash-chain', tasks, seconds, markerFile) }, { registry, resolveDag: () => undefined });
      return (await startRun(client.client, { dag, params: {}, taskQueue })).runId;
    },
    markers: () =>
      existsSync(markerFile)
        ? readFileSync(markerFile, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((line) => {
              const [event, task, pid, atMs] = line.split(' ');
              return { event: event as Marker['event'], task: task as string, pid: Number(pid), atMs: Number(atMs) };
            })
        : [],
    waitForRun: async (runId, timeoutMs = 120_000) => {
      const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`run ${runId} did not end within ${timeoutMs / 1000}s`)), timeoutMs).unref());
      await Promise.race([client.client.workflow.getHandle(runId).result().catch(() => undefined), timer]);
      return getRunStatus(client.client, runId);
    },
    killServer: async () => {
      if (!options.ownServer || !server?.pid) throw new Error('the lab has no server of its own');
      const pid = server.pid;
      process.kill(-pid, 'SIGKILL');
      await until(() => !isProcessRunning(pid), 10_000, 'the killed server to be gone');
      // The CLI's server process may outlive its launcher for a moment; a start that still saw it listening would reuse a dying server.
      await until(async () => !(await isListening('127.0.0.1', serverPort)), 10_000, 'the killed server to stop listening');
      server = undefined;
    },
    startServer: async () => {
      server = await ensureTemporalServer(config, logger, { detach: true });
    },
    close: async () => {
      await client.close();
      // A process still dying can write one more file (a log line, the server's database journal) while the
      // directory is removed, which then fails with ENOTEMPTY: wait for them, and retry what is left.
      await allGone(killEverything(), 10_000);
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

export interface WorkerKillTrial {
  status: DagRunStatus;
  markers: Marker[];
  /** The task whose attempt died with the worker, if one was running. */
  lostTask?: string;
  /** Its shell's pid, running on after the kill until the new worker stopped it. */
  orphanPid?: number;
  /** Milliseconds from the kill until the orphan was gone (undefined: still there after 10 s). */
  orphanStoppedMs?: number;
  orphanAliveWhenWorkerReady?: boolean;
  /** Spawn of the new worker until it polled. */
  restartReadyMs: number;
  /** Spawn of the new worker until the lost task started again (or the next task started). */
  recoveryMs?: number;
  /** Tasks whose completion Temporal had recorded before the kill. */
  completedBeforeKill: string[];
  /** Of those, the ones that started again after the kill (must be none). */
  rerunCompleted: string[];
}

/**
 * The tasks whose completion the run's history recorded before `atMs`. A tool that ended on its host
 * but whose worker died before reporting it has not completed: it may run again (at least once).
 */
async function completedBefore(lab: CrashLab, runId: string, atMs: number): Promise<Set<string>> {
  const history = await lab.client.client.workflow.getHandle(runId).fetchHistory();
  const scheduled = new Map<string, string>();
  const done = new Set<string>();
  for (const event of history.events ?? []) {
    const attributes = event.activityTaskScheduledEventAttributes;
    if (attributes?.activityId) scheduled.set(String(event.eventId), attributes.activityId);
    const completion = event.activityTaskCompletedEventAttributes;
    if (completion && tsToMs(event.eventTime) < atMs) {
      const id = scheduled.get(String(completion.scheduledEventId));
      if (id) done.add(id);
    }
  }
  return done;
}

/** One trial: a chain starts, its worker is killed with SIGKILL `afterMs` after a task started, a new worker starts. */
export async function workerKillTrial(lab: CrashLab, options: { tasks: number; seconds: number; killWhen: { task: string; afterMs: number }; product?: boolean }): Promise<WorkerKillTrial> {
  const start = (): Promise<WorkerProcess> => (options.product ? lab.startProduct() : lab.startWorker());
  const first = await start();
  const before = lab.markers().length;
  const runId = await lab.startChain(options.tasks, options.seconds);
  const { task, afterMs } = options.killWhen;
  await until(() => lab.markers().slice(before).some((m) => m.task === task && m.event === 'start'), 60_000, `${task} to start`);
  await new Promise((resolve) => setTimeout(resolve, afterMs));
  await lab.killWorker(first);
  const killedAt = Date.now();
  const atKill = lab.markers().slice(before);
  const ended = new Set(atKill.filter((m) => m.event === 'end').map((m) => m.task));
  // The attempt in flight as the host saw it; its completion may still have been unreported.
  const inFlight = atKill.find((m) => m.event === 'start' && !ended.has(m.task));
  // The watchdog stops the orphan once the worker is gone; how long it takes is part of the figures.
  let orphanStoppedMs: number | undefined;
  if (inFlight) {
    while (isProcessRunning(inFlight.pid) && Date.now() - killedAt < 10_000) await new Promise((resolve) => setTimeout(resolve, 5));
    if (!isProcessRunning(inFlight.pid)) orphanStoppedMs = Date.now() - killedAt;
  }
  const second = await start();
  const orphanAliveWhenWorkerReady = inFlight ? isProcessRunning(inFlight.pid) : undefined;
  const status = await lab.waitForRun(runId);
  await lab.killWorker(second);
  const markers = lab.markers().slice(before);
  const after = markers.filter((m) => m.atMs >= killedAt);
  const resumed = after.find((m) => m.event === 'start');
  const completed = await completedBefore(lab, runId, killedAt);
  return {
    status,
    markers,
    ...(inFlight ? { lostTask: inFlight.task, orphanPid: inFlight.pid, ...(orphanStoppedMs === undefined ? {} : { orphanStoppedMs }), orphanAliveWhenWorkerReady } : {}),
    restartReadyMs: second.readyMs,
    ...(resumed ? { recoveryMs: resumed.atMs - second.startedAt } : {}),
    completedBeforeKill: [...completed],
    rerunCompleted: [...new Set(after.filter((m) => m.event === 'start' && completed.has(m.task)).map((m) => m.task))],
  };
}
