import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../config/config';
import { allGone, isProcessRunning } from './processes';
import { until } from './waiting';

/**
 * The production-shaped Temporal of infra/production (pinned server built from source, PostgreSQL, mTLS),
 * brought up with the same scripts an operator runs, for tests and benchmarks.
 */
export interface ProductionTemporal {
  /** `QUBINODE_PROD_DIR` of this cluster (database, certificates, server log, temporal.env). */
  prodDir: string;
  /** What `temporal.env` says: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS_*; the only way clients reach it. */
  env: Record<string, string>;
  /** Settings handed to the scripts (ports, directory), for a later `down.sh` or restart. */
  scriptEnv: NodeJS.ProcessEnv;
  /** How long up.sh took (build or cache copy included). */
  upMs: number;
  /** Output of up.sh, for a failing test to show. */
  upLog: string;
  /** Pid of the running temporal-server (from its pid file), if any. */
  serverPid(): number | undefined;
  /** `kill -9` of the server alone (PostgreSQL keeps running), for crash trials. */
  killServer(): void;
  /** Starts the server again on the same database (start-temporal.sh; a running server is kept). */
  startServer(): Promise<void>;
  /** Stops the server and PostgreSQL (data kept unless purge). */
  down(options?: { purge?: boolean }): Promise<void>;
}

export interface ProductionTemporalOptions {
  /** Default: `<project>/.data/test/production`. */
  prodDir?: string;
  /** Default 5434 (apart from an operator's 5433). */
  pgPort?: number;
  /** Frontend port; the server takes the nine after it too. Default 7263 (apart from the dev server and an operator's 7243). */
  temporalPort?: number;
}

const SCRIPTS = path.join(PROJECT_ROOT, 'infra', 'production');

/** Runs one of the infra/production scripts without a terminal, as CI does. */
export function runProductionScript(script: string, args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 60 * 60_000): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile('bash', [path.join(SCRIPTS, script), ...args], { cwd: PROJECT_ROOT, env: { ...process.env, CI: 'true', ...env }, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${stdout}${stderr}` });
    });
    child.stdin?.end();
  });
}

/** Reads `KEY=value` lines of an env file (comments and blank lines skipped; values are taken literally). */
export function readEnvFile(file: string): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match) entries[match[1] as string] = match[2] as string;
  }
  return entries;
}

/** Brings the cluster up with infra/production/up.sh (idempotent: a running cluster is reused). */
export async function startProductionTemporal(options: ProductionTemporalOptions = {}): Promise<ProductionTemporal> {
  const prodDir = options.prodDir ?? path.join(PROJECT_ROOT, '.data', 'test', 'production');
  const scriptEnv: NodeJS.ProcessEnv = {
    QUBINODE_PROD_DIR: prodDir,
    QUBINODE_PG_PORT: String(options.pgPort ?? 5434),
    QUBINODE_PROD_TEMPORAL_PORT: String(options.temporalPort ?? 7263),
    // As a control plane serving hypervisors on other hosts (docs/production.md): every address, clients dial loopback here.
    QUBINODE_PROD_BIND_IP: '0.0.0.0',
  };
  const started = Date.now();
  const up = await runProductionScript('up.sh', [], scriptEnv);
  if (up.code !== 0) throw new Error(`infra/production/up.sh failed (exit ${up.code}):\n${up.output}`);
  const serverPid = (): number | undefined => {
    const pidFile = path.join(prodDir, 'temporal', 'temporal-server.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : NaN;
    return Number.isInteger(pid) && pid > 0 && isProcessRunning(pid) ? pid : undefined;
  };
  return {
    prodDir,
    env: readEnvFile(path.join(prodDir, 'temporal.env')),
    scriptEnv,
    upMs: Date.now() - started,
    upLog: up.output,
    serverPid,
    killServer: () => {
      const pid = serverPid();
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
    },
    startServer: async () => {
      const start = await runProductionScript('start-temporal.sh', [], scriptEnv, 300_000);
      if (start.code !== 0) throw new Error(`infra/production/start-temporal.sh failed (exit ${start.code}):\n${start.output}`);
    },
    down: async ({ purge = false } = {}) => {
      const down = await runProductionScript('down.sh', purge ? ['--purge'] : [], scriptEnv, 120_000);
      if (down.code !== 0) throw new Error(`infra/production/down.sh failed (exit ${down.code}):\n${down.output}`);
    },
  };
}

/** A `qubinode` process started from the TypeScript sources (e.g. a worker), with its output kept. */
export interface QubinodeProcess {
  pid: number;
  output(): string;
  /** Resolves once the output matches (fails early if the process exits). */
  waitFor(pattern: RegExp, withinMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL if it has not exited within 20 s. */
  stop(): Promise<void>;
}

export function startQubinodeProcess(args: readonly string[], env: NodeJS.ProcessEnv): QubinodeProcess {
  const child: ChildProcess = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(PROJECT_ROOT, 'cli', 'main.ts'), ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let exited = false;
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.on('exit', () => (exited = true));
  const pid = child.pid as number;
  return {
    pid,
    output: () => output,
    waitFor: async (pattern, withinMs = 120_000) => {
      await until(
        () => {
          if (pattern.test(output)) return true;
          if (exited) throw new Error(`qubinode ${args.join(' ')} exited before printing ${pattern}:\n${output}`);
          return false;
        },
        withinMs,
        `qubinode ${args.join(' ')} to print ${pattern}`,
      );
    },
    stop: async () => {
      if (exited || !isProcessRunning(pid)) return;
      child.kill('SIGTERM');
      if (!(await allGone([pid], 20_000))) child.kill('SIGKILL');
      await allGone([pid], 5_000);
    },
  };
}
