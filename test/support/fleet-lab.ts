import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { loadConfig, PROJECT_ROOT, type QubinodeConfig } from '../../config/config';
import { until } from './waiting';

/**
 * The fleet lab for tests and the bench: hosts hv1..hvN as network namespaces (infra/lab/*.sh), a
 * Temporal dev server of the lab's own in a namespace of its own on the bridge (the hosts cannot reach
 * this machine's loopback), and a worker per host started, stopped, killed or cut off through the lab's scripts.
 * Root only: `fleetLabUnavailable()` says why not when the lab cannot run here.
 */

export const LAB_SCRIPTS = path.join(PROJECT_ROOT, 'infra', 'lab');
export const LAB_CONTROL_IP = '10.231.0.1';
/** Where the lab's own Temporal dev server answers (from namespace qn-temporal). */
export const LAB_TEMPORAL_IP = '10.231.0.2';

/** The addresses and names of the lab in one slot (QUBINODE_LAB_SLOT, 0..9; see infra/lab/fleet-lib.sh). */
export function labSlot(slot: number): { controlIp: string; temporalIp: string; prefix: string; dirName: string } {
  if (!Number.isInteger(slot) || slot < 0 || slot > 9) throw new Error(`lab slot must be 0..9, got ${slot}`);
  return { controlIp: `10.231.${slot}.1`, temporalIp: `10.231.${slot}.2`, prefix: slot === 0 ? 'qn' : `qn${slot}`, dirName: slot === 0 ? 'lab' : `lab${slot}` };
}

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
  /** Environment of the control plane: TEMPORAL_ADDRESS and the Web UI of the lab's server. */
  env: NodeJS.ProcessEnv;
  config: QubinodeConfig;
  host(name: string): LabHost;
  /** Starts the host's worker and waits until it says it polls; `extraEnv` adds to the lab's environment for this worker (e.g. QUBINODE_LAB_REBOOT). */
  startWorker(name: string, extraEnv?: NodeJS.ProcessEnv): Promise<void>;
  stopWorker(name: string): Promise<void>;
  /** Every process of the host dies with SIGKILL (the host losing power). */
  killHost(name: string): Promise<void>;
  /** Its link to the bridge goes down; processes keep running. */
  cut(name: string): Promise<void>;
  mend(name: string): Promise<void>;
  /** Stops every worker, removes the lab and stops the lab's Temporal server. */
  close(): Promise<void>;
}

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

function fileSize(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

/** Brings the lab up with `hosts` hosts and the lab's own Temporal server (empty) on `temporalPort`, its Web UI 1000 above. */
export async function startFleetLab(options: { hosts?: number; temporalPort?: number; slot?: number } = {}): Promise<FleetLab> {
  const count = options.hosts ?? 3;
  const slotNumber = options.slot ?? Number(process.env.QUBINODE_LAB_SLOT ?? 0);
  const slot = labSlot(slotNumber);
  const port = options.temporalPort ?? 7250 + 10 * slotNumber;
  const slotEnv: NodeJS.ProcessEnv = { ...process.env, QUBINODE_LAB_SLOT: String(slotNumber) };
  // From scratch: a lab left by an earlier run (its hosts, workers, server and database) goes first.
  await mustRun('fleet-down.sh', [], slotEnv);
  const up = await mustRun('fleet-up.sh', [String(count)], slotEnv);
  const hosts = up
    .trim()
    .split('\n')
    .map((line): LabHost => {
      const [name, namespace, address, dir] = line.split('\t') as [string, string, string, string];
      return { name, namespace, address, dataDir: path.join(dir, 'data'), logDir: path.join(dir, 'logs') };
    });
  const env: NodeJS.ProcessEnv = {
    ...slotEnv,
    // The workers run `node` from PATH inside their namespaces: the same node as this process.
    PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
    TEMPORAL_ADDRESS: `${slot.temporalIp}:${port}`,
    TEMPORAL_UI_URL: `http://${slot.temporalIp}:${port + 1000}`,
    QUBINODE_LAB_TEMPORAL_PORT: String(port),
    QUBINODE_DATA_DIR: path.join(PROJECT_ROOT, '.data', slot.dirName, 'control'),
    QUBINODE_AI_ANALYSIS: 'rules',
    // The hosts' workers run the code under test, never an older dist/ build (bin/qubinode.js prefers dist/).
    QUBINODE_FROM_SOURCES: '1',
  };
  // A test file that dies without close() must not leave the lab or its server behind.
  const leftovers = (): void => {
    try {
      execFileSync('bash', [path.join(LAB_SCRIPTS, 'fleet-down.sh')], { stdio: 'ignore', timeout: 30_000, env: slotEnv });
    } catch {
      // nothing more to do while exiting
    }
  };
  process.once('exit', leftovers);
  try {
    await mustRun('fleet-server.sh', ['start', '--fresh'], env);
  } catch (error) {
    process.removeListener('exit', leftovers);
    leftovers();
    throw error;
  }
  const config = loadConfig(env);

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
    startWorker: async (name, extraEnv = {}) => {
      const log = path.join(host(name).logDir, 'worker.log');
      const offset = fileSize(log);
      await mustRun('fleet-worker.sh', ['start', name], { ...env, ...extraEnv });
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
      // Stops the lab's Temporal with everything else in the lab.
      await mustRun('fleet-down.sh', [], slotEnv);
    },
  };
}
