import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../config/project-root';
import { freePort } from './free-port';

/**
 * How long the built `qubinode` takes to answer, as an operator types it: wall time of a whole process
 * (node start, module loading, the command, exit), median of several runs, from dist/ (built first when
 * missing or older than the sources). Figures, not pass/fail; each is printed beside its goal. Twice: as an admin
 * on the control plane (Temporal directly), and as an operator through the API (QUBINODE_API_URL and a token),
 * against a `qubinode up` of the bench's own (its own port, data directory and task queue).
 */

const RUNS = Number(process.env.BENCH_CLI_RUNS ?? 5);
const BIN = path.join(PROJECT_ROOT, 'bin', 'qubinode.js');
const BUILT = path.join(PROJECT_ROOT, 'dist', 'cli', 'main.js');
const SOURCE_DIRS = ['cli', 'client', 'config', 'dag-repos', 'workflows', 'activities', 'plugins', 'ai', 'workers', 'api', 'infra'];

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

function ensureBuilt(): void {
  const sources = Math.max(...SOURCE_DIRS.map((dir) => newestSource(path.join(PROJECT_ROOT, dir))));
  if (existsSync(BUILT) && statSync(BUILT).mtimeMs >= sources) return;
  console.log('dist/ is missing or older than the sources: npm run build');
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: PROJECT_ROOT, stdio: 'inherit' });
}

// The bin runs dist/ unless told to run the sources; the bench measures what an installed CLI does.
const env = { ...process.env, QUBINODE_FROM_SOURCES: '0', NO_COLOR: '1' };

function runOnce(args: readonly string[], runEnv: NodeJS.ProcessEnv = env): { ms: number; status: number | null; stdout: string } {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [BIN, ...args], { cwd: PROJECT_ROOT, env: runEnv, encoding: 'utf8', timeout: 120_000 });
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, status: result.status, stdout: result.stdout };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function measure(label: string, args: readonly string[], goalMs: number, runEnv: NodeJS.ProcessEnv = env): void {
  runOnce(args, runEnv); // warm the file cache
  const runs = Array.from({ length: RUNS }, () => runOnce(args, runEnv));
  const failed = runs.filter((run) => run.status !== 0).length;
  const ms = median(runs.map((run) => run.ms));
  const figure = `${(ms / 1000).toFixed(2)} s`;
  console.log(`  ${label.padEnd(34)} ${figure.padStart(7)}   goal < ${(goalMs / 1000).toFixed(1)} s  ${ms < goalMs ? 'met' : 'NOT met'}${failed ? `  (${failed} of ${RUNS} runs exited non-zero)` : ''}`);
}

/** A finished run to ask `status` about, the newest one visibility lists; none on a fresh server. */
function finishedRun(runEnv: NodeJS.ProcessEnv = env): string | undefined {
  const listed = runOnce(['runs', '--status', 'succeeded', '--limit', '1', '--json'], runEnv);
  if (listed.status !== 0) return undefined;
  try {
    return (JSON.parse(listed.stdout) as { runId: string }[])[0]?.runId;
  } catch {
    return undefined;
  }
}

/** The operator's commands through the API of a `qubinode up` started here, after one run of examples/hello on it. */
async function measureThroughTheApi(): Promise<void> {
  const port = await freePort();
  const token = randomBytes(24).toString('base64url');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'qubinode-bench-cli-'));
  const base = `http://127.0.0.1:${port}`;
  const product = spawn(process.execPath, [BIN, 'up'], {
    cwd: PROJECT_ROOT,
    env: { ...env, QUBINODE_API_PORT: String(port), QUBINODE_API_TOKEN: token, QUBINODE_DATA_DIR: dataDir, QUBINODE_TASK_QUEUE: `bench-cli-${randomUUID().slice(0, 8)}`, QUBINODE_AI_ANALYSIS: 'rules', QUBINODE_LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  try {
    for (const began = Date.now(); (await fetch(`${base}/healthz`).catch(() => undefined))?.status !== 200; await new Promise((resolve) => setTimeout(resolve, 250))) {
      if (Date.now() - began > 180_000) throw new Error(`the API of \`qubinode up\` did not answer at ${base} within 180 s`);
    }
    const apiEnv = { ...env, QUBINODE_API_URL: base, QUBINODE_API_TOKEN: token };
    const hello = runOnce(['run', 'examples/hello', '--wait', '-p', `api_url=${base}/healthz`], apiEnv);
    console.log(`through the API of a \`qubinode up\` started here (QUBINODE_API_URL and a token; examples/hello ran through it: ${hello.status === 0 ? 'succeeded' : `exit ${hello.status}`})`);
    measure('qubinode dag list', ['dag', 'list'], 500, apiEnv);
    measure('qubinode runs --limit 20', ['runs', '--limit', '20'], 500, apiEnv);
    const run = finishedRun(apiEnv);
    if (run) measure('qubinode status <finished run>', ['status', run], 500, apiEnv);
    else console.log('  qubinode status: no finished run to ask about');
  } finally {
    const exited = new Promise((resolve) => product.once('exit', resolve));
    product.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  ensureBuilt();
  console.log(`qubinode CLI from dist/, median of ${RUNS} runs; as an admin with Temporal access (wall time of the whole process; node itself starts in about ${(median(Array.from({ length: RUNS }, () => {
    const started = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0']);
    return Number(process.hrtime.bigint() - started) / 1e6;
  })) / 1000).toFixed(2)} s here)`);
  measure('qubinode --help', ['--help'], 200);
  measure('qubinode dag list', ['dag', 'list'], 500);
  measure('qubinode runs --limit 20', ['runs', '--limit', '20'], 500);
  const run = finishedRun();
  if (run) measure('qubinode status <finished run>', ['status', run], 500);
  else console.log('  qubinode status: no finished run to ask about (run one: npx qubinode run examples/hello --wait)');
  await measureThroughTheApi();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
