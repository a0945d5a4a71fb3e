import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadConfig, PROJECT_ROOT, type QubinodeConfig } from '../../config/config';
import { createLogger } from '../../config/logger';
import { ensureTemporalServer } from '../../infra/temporal-dev-server';
import { isProcessRunning } from './processes';
import { until } from './waiting';

/**
 * The fleet lab for tests and the bench: hosts hv1..hvN as network namespaces (infra/lab/*.sh), a
 * Temporal dev server of the lab's own on the bridge address (the hosts cannot reach this machine's
 * loopback), and a worker per host started, stopped, killed or cut off through the lab's scripts.
 * Root only: `fleetLabUnavailable()` says why not when the lab cannot run here.
 */

export const LAB_SCRIPTS = path.join(PROJECT_ROOT, 'infra', 'lab');
export const LAB_CONTROL_IP = '10.231.0.1';

export interface LabHost {
  /** Task queue and host name: hv1, hv2, ... */
  name: string;
  namespace: string;
  /** Its eth0 address on the lab's bridge. */
  address: string;
  dataDir: string;
  logDir: string;
}

export interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface FleetLab {
  hosts: LabHost[];
  /** Environment of the control plane: TEMPORAL_ADDRESS and the dev-server settings of the lab's server. */
  env: NodeJS.ProcessEnv;
  config: QubinodeConfig;
  host(name: string): LabHost;
  /** Starts the host's worker and waits until it says it polls. */
  startWorker(name: string): Promise<void>;
  stopWorker(name: string): Promise<void>;
  /** Every process of the host dies with SIGKILL (the host losing power). */
  killHost(name: string): Promise<void>;
  /** Its link to the bridge goes down; processes keep running. */
  cut(name: string): Promise<void>;
  mend(name: string): Promise<void>;
  /** Stops every worker, removes the lab and stops the lab's Temporal server. */
  close(): Promise<void>;
}

const logger = createLogger('error', 'fleet-lab');

/** Why the lab cannot run on this machine, or undefined when it can. */
export function fleetLabUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'the fleet lab needs Linux network namespaces';
  if (process.getuid?.() !== 0) return 'the fleet lab needs root (network namespaces, veth pairs, a bridge)';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'the ip command (iproute2) is missing';
  }
  return undefined;
}

/** Runs one of infra/lab/*.sh; resolves with its exit code and output (never rejects on a non-zero exit). */
export function runLabScript(script: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<ScriptResult> {
  return new Promise((resolve) => {
    execFile('bash', [path.join(LAB_SCRIPTS, script), ...args], { env, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function mustRun(script: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<string> {
  const result = await runLabScript(script, args, env);
  if (result.code !== 0) throw new Error(`${script} ${args.join(' ')} exited with ${result.code}: ${result.stderr}${result.stdout}`);
  return result.stdout;
}

/** The dev server runs as a process group of its own (its UI and helpers go with it). */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function fileSize(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

/** Brings the lab up with `hosts` hosts and the lab's own Temporal server on `temporalPort` (and the next port for its UI). */
export async function startFleetLab(options: { hosts?: number; temporalPort?: number } = {}): Promise<FleetLab> {
  const count = options.hosts ?? 3;
  const port = options.temporalPort ?? 7250;
  const up = await mustRun('fleet-up.sh', [String(count)]);
  const hosts = up
    .trim()
    .split('\n')
    .map((line): LabHost => {
      const [name, namespace, address, dir] = line.split('\t') as [string, string, string, string];
      return { name, namespace, address, dataDir: path.join(dir, 'data'), logDir: path.join(dir, 'logs') };
    });
  const controlDir = mkdtempSync(path.join(tmpdir(), 'qubinode-lab-control-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    // The workers run `node` from PATH inside their namespaces: the same node as this process.
    PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
    TEMPORAL_ADDRESS: `${LAB_CONTROL_IP}:${port}`,
    QUBINODE_TEMPORAL_IP: LAB_CONTROL_IP,
    QUBINODE_TEMPORAL_PORT: String(port),
    QUBINODE_TEMPORAL_UI_PORT: String(port + 1),
    QUBINODE_LAB_TEMPORAL_PORT: String(port),
    QUBINODE_DATA_DIR: controlDir,
    QUBINODE_AI_ANALYSIS: 'rules',
  };
  const config = loadConfig(env);
  let serverPid: number | undefined;
  // A test file that dies without close() must not leave the lab or its server behind.
  const leftovers = (): void => {
    try {
      execFileSync('bash', [path.join(LAB_SCRIPTS, 'fleet-down.sh')], { stdio: 'ignore', timeout: 30_000 });
    } catch {
      // nothing more to do while exiting
    }
    if (serverPid) signalGroup(serverPid, 'SIGKILL');
    rmSync(controlDir, { recursive: true, force: true });
  };
  process.once('exit', leftovers);
  try {
    serverPid = (await ensureTemporalServer(config, logger, { detach: true })).pid;
  } catch (error) {
    process.removeListener('exit', leftovers);
    leftovers();
    throw error;
  }

  const host = (name: string): LabHost => {
    const found = hosts.find((candidate) => candidate.name === name);
    if (!found) throw new Error(`no lab host ${name}`);
    return found;
  };
  return {
    hosts,
    env,
    config,
    host,
    startWorker: async (name) => {
      const log = path.join(host(name).logDir, 'worker.log');
      const offset = fileSize(log);
      await mustRun('fleet-worker.sh', ['start', name], env);
      await until(() => readFileSync(log).subarray(offset).toString().includes(`worker polling "${name}"`), 90_000, `the ${name} worker to poll (see ${log})`);
    },
    stopWorker: async (name) => {
      await mustRun('fleet-worker.sh', ['stop', name], env);
    },
    killHost: async (name) => {
      await mustRun('fleet-worker.sh', ['kill', name], env);
    },
    cut: async (name) => {
      await mustRun('fleet-link.sh', ['cut', name], env);
    },
    mend: async (name) => {
      await mustRun('fleet-link.sh', ['mend', name], env);
    },
    close: async () => {
      process.removeListener('exit', leftovers);
      await mustRun('fleet-down.sh', []);
      const pid = serverPid;
      if (pid) {
        signalGroup(pid, 'SIGTERM');
        await until(() => !isProcessRunning(pid), 15_000, 'the lab Temporal server to stop').catch(() => signalGroup(pid, 'SIGKILL'));
      }
      rmSync(controlDir, { recursive: true, force: true });
    },
  };
}
