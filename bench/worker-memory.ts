import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { connectClient } from '../config/temporal-connection';
import { startRun } from '../client/runs';
import { loadConfig, PROJECT_ROOT } from '../config/config';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { compileDagFile } from '../dag-repos/compiler/compile';

/**
 * A main-queue worker's resident memory as a production unit runs it (infra/deploy/systemd: a bounded old
 * space, two malloc arenas; the AI model not loaded): idle after start, then after a large run finished.
 * Figures only; the aim is under 250 MiB idle (shared/DESIGN.md's worker sizing).
 */

const TASKS = Number(process.env.BENCH_WORKER_TASKS ?? 1000);
/** Time for the heaps to settle before a reading. */
const SETTLE_MS = Number(process.env.BENCH_WORKER_SETTLE_MS ?? 20_000);

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((entry) => entry.startsWith('VmRSS:'));
  return Number(line?.replace(/\D+/g, '') ?? 0) / 1024;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function fanOutYaml(tasks: number): string {
  const lines = Array.from({ length: tasks }, (_, index) => `  - id: t${index}\n    uses: noop`);
  return `id: bench-memory\nconcurrency: 50\ntasks:\n${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'qubinode-bench-memory-'));
  const taskQueue = `bench-memory-${randomUUID().slice(0, 8)}`;
  const env = { ...process.env, QUBINODE_DATA_DIR: dataDir, QUBINODE_TASK_QUEUE: taskQueue, QUBINODE_AI_ANALYSIS: 'rules', QUBINODE_LOG_LEVEL: 'warn', MALLOC_ARENA_MAX: '2' };
  const worker = spawn(process.execPath, ['--max-old-space-size=1024', path.join(PROJECT_ROOT, 'bin', 'qubinode.js'), 'worker'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const pid = worker.pid ?? 0;
  const temporal = await connectClient(loadConfig(env).temporal);
  try {
    await new Promise<void>((resolve, reject) => {
      let seen = '';
      worker.stdout?.on('data', (chunk: Buffer) => {
        seen += chunk.toString('utf8');
        if (seen.includes('worker polling')) resolve();
      });
      worker.once('exit', (code) => reject(new Error(`the worker exited (${code}) before it polled`)));
    });
    await pause(SETTLE_MS);
    const idle = rssMiB(pid);
    const dag = compileDagFile({ repo: 'bench', path: 'memory.yaml', commit: 'bench', text: fanOutYaml(TASKS) }, { registry: new ActionRegistry() });
    const began = performance.now();
    const started = await startRun(temporal.client, { dag, params: {}, taskQueue });
    await temporal.client.workflow.getHandle(started.runId).result();
    const runSeconds = (performance.now() - began) / 1000;
    const peakDuringRun = rssMiB(pid);
    await pause(SETTLE_MS);
    const afterRun = rssMiB(pid);
    console.log(`\nmain-queue worker resident memory (as the systemd unit runs it; AI model not loaded)`);
    console.log(`  idle after start        ${idle.toFixed(0)} MiB   (aim: under 250 MiB)`);
    console.log(`  at the end of a run     ${peakDuringRun.toFixed(0)} MiB   (${TASKS} no-op tasks, 50 at a time, ${runSeconds.toFixed(1)} s)`);
    console.log(`  ${SETTLE_MS / 1000} s after that run    ${afterRun.toFixed(0)} MiB`);
  } finally {
    await temporal.close();
    worker.kill('SIGTERM');
    await new Promise((resolve) => worker.once('exit', resolve));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
