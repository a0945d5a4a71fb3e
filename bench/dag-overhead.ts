import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { loadConfig } from '../config/config';
import { createLogger } from '../config/logger';
import { connectClient } from '../config/temporal-connection';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { compileDagFile } from '../dag-repos/compiler/compile';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import { ensureTemporalServer } from '../infra/temporal-dev-server';
import { registerSearchAttributes } from '../infra/search-attributes';
import type { Client } from '@temporalio/client';
import { runStartOptions, startRun } from '../client/runs';
import { createQubinodeWorker } from '../workers/qubinode-worker';
import { workerTemporalAccess } from '../client/worker-access';

/**
 * Per-task overhead of the dagRun interpreter against a plain hand-written workflow calling the
 * same no-op activity: same server, same worker, same run. A benchmark, not a test: it prints figures.
 */

/** DAG sizes to time; BENCH_TASKS=200 or BENCH_SIZES=50,1000 to time fewer. */
const SIZES = (process.env.BENCH_SIZES ?? process.env.BENCH_TASKS ?? '50,1000,5000').split(',').map(Number).filter((size) => size > 0);
/** BENCH_SHAPES=chain or fanout to time one shape only. */
const SHAPES = (['chain', 'fanout'] as const).filter((shape) => (process.env.BENCH_SHAPES ?? 'chain,fanout').split(',').includes(shape));
/**
 * Rounds per size: what takes seconds is timed more often, the median smoothing a busy machine; long chains
 * once. Every fan-out gets at least three: at 5,000 the Temporal server is the bottleneck and one round swings
 * by a third between runs.
 */
function roundsFor(size: number, shape: 'chain' | 'fanout'): number {
  return Number(process.env.BENCH_ROUNDS ?? (size <= 100 ? 5 : shape === 'fanout' ? 3 : 1));
}

/**
 * Tasks in flight at most: the DAG schema's limit on `concurrency`, well under Temporal's default limit of
 * 2,000 pending activities per workflow, which a wider fan-out would hit (the server fails its workflow tasks).
 */
const MAX_IN_FLIGHT = 1000;

function dagYaml(shape: 'chain' | 'fanout', N: number): string {
  const tasks = Array.from({ length: N }, (_, index) => {
    const needs = shape === 'chain' && index > 0 ? `\n    needs: t${index - 1}` : '';
    return `  - id: t${index}\n    uses: noop${needs}`;
  });
  return `id: bench-${shape}\nconcurrency: ${Math.min(N, MAX_IN_FLIGHT)}\ntasks:\n${tasks.join('\n')}\n`;
}

/**
 * The compiled DAG of N no-op tasks. Up to 2,000 tasks it is compiled from YAML; above, the file's token
 * limit (dag-repos/compiler/parse-limits.ts) would refuse the file, so the compiled tasks of a small
 * DAG of the same shape are repeated: the interpreter, not the compiler, is what is timed.
 */
function benchDag(shape: 'chain' | 'fanout', N: number, registry: ActionRegistry): CompiledDag {
  const compile = (count: number): CompiledDag => compileDagFile({ repo: 'bench', path: `${shape}.yaml`, commit: 'bench', text: dagYaml(shape, count) }, { registry });
  if (N <= 2000) return compile(N);
  const small = compile(2);
  const [first, second] = small.tasks;
  if (!first || !second) throw new Error('bench DAG has no tasks');
  const tasks = Array.from({ length: N }, (_, index) => ({ ...(index === 0 ? first : second), id: `t${index}`, needs: shape === 'chain' && index > 0 ? [`t${index - 1}`] : [] }));
  return { ...small, concurrency: Math.min(N, MAX_IN_FLIGHT), tasks };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  const logger = createLogger('warn', 'bench');
  const config = { ...loadConfig(), logDir: mkdtempSync(path.join(tmpdir(), 'qubinode-bench-')) };
  await ensureTemporalServer(config, logger, { detach: true });
  const temporal = await connectClient(config.temporal);
  await registerSearchAttributes(temporal.connection, config.temporal.namespace);
  const taskQueue = `bench-${randomUUID().slice(0, 8)}`;
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./workflows'), logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: console.error } });
  const running = await createQubinodeWorker({ temporalAccess: workerTemporalAccess, config: { ...config, taskQueue }, logger, taskQueue, workflowBundle });
  const { worker } = running;
  const registry = new ActionRegistry();

  const timeIt = async (start: () => Promise<{ result(): Promise<unknown> }>): Promise<number> => {
    const began = process.hrtime.bigint();
    const handle = await start();
    await handle.result();
    return Number(process.hrtime.bigint() - began) / 1e6;
  };

  const rows: string[] = [];
  /** ms/task of the smallest size per shape, to show whether the cost per task grows with N. */
  const smallest = new Map<string, number>();
  let checks = 0;
  await worker.runUntil(async () => {
    for (const [N, shape] of SIZES.flatMap((size) => SHAPES.map((shape) => [size, shape] as const))) {
      const ROUNDS = roundsFor(N, shape);
      const dag = benchDag(shape, N, registry);
      const interpreted: number[] = [];
      const plain: number[] = [];
      for (let round = 0; round < ROUNDS; round += 1) {
        interpreted.push(
          // The workflow a run starts, as startRun starts it, without startRun's checks (timed apart below).
          await timeIt(() => temporal.client.workflow.start('dagRun', runStartOptions({ dag, params: {}, taskQueue, runKey: `bench-${randomUUID().slice(0, 8)}` }))),
        );
        plain.push(
          await timeIt(() =>
            temporal.client.workflow.start(shape === 'chain' ? 'plainChain' : 'plainFanOut', { taskQueue, workflowId: `bench/plain-${shape}/${randomUUID()}`, args: shape === 'chain' ? [N] : [N, MAX_IN_FLIGHT] }),
          ),
        );
      }
      const dagMs = median(interpreted);
      const plainMs = median(plain);
      const perTask = dagMs / N;
      if (!smallest.has(shape)) smallest.set(shape, perTask);
      const growth = perTask / (smallest.get(shape) ?? perTask);
      const row = `${shape.padEnd(6)} ${String(N).padStart(5)} tasks  dagRun ${perTask.toFixed(2).padStart(6)} ms/task (${dagMs.toFixed(0)} ms)   plain ${(plainMs / N).toFixed(2).padStart(6)} ms/task (${plainMs.toFixed(0)} ms)   vs plain ${(dagMs / plainMs).toFixed(2)}x   vs ${SIZES[0]} ${growth.toFixed(2)}x   median of ${ROUNDS}`;
      rows.push(row);
      console.log(`  ${row}`);
    }
    checks = await startChecksMs(temporal.client, benchDag('fanout', 1, registry), taskQueue);
  });
  await running.close();
  await temporal.close();
  console.log(`\ndagRun cost per no-op task vs a hand-written workflow (aim: within 1.2x of plain at every size, and within 1.1x of the ${SIZES[0]}-task figure)`);
  for (const row of rows) console.log(`  ${row}`);
  console.log(`  a run's start checks (hosts no worker announced, version approval), once per run: ${checks.toFixed(1)} ms (median of 5), apart from the figures above`);
}

/** What startRun's checks add to starting the same workflow: median of startRun minus median of the bare start. */
async function startChecksMs(client: Client, dag: CompiledDag, taskQueue: string): Promise<number> {
  const checked: number[] = [];
  const bare: number[] = [];
  for (let round = 0; round < 5; round += 1) {
    let began = process.hrtime.bigint();
    const started = await startRun(client, { dag, params: {}, taskQueue });
    checked.push(Number(process.hrtime.bigint() - began) / 1e6);
    await client.workflow.getHandle(started.runId).result();
    began = process.hrtime.bigint();
    const handle = await client.workflow.start('dagRun', runStartOptions({ dag, params: {}, taskQueue, runKey: `bench-${randomUUID().slice(0, 8)}` }));
    bare.push(Number(process.hrtime.bigint() - began) / 1e6);
    await handle.result();
  }
  return median(checked) - median(bare);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
