import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { loadConfig } from '../config/config';
import { createLogger } from '../config/logger';
import { connectClient } from '../client/connection';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { compileDagFile } from '../dag-repos/compiler/compile';
import { ensureTemporalServer } from '../infra/temporal-dev-server';
import { registerSearchAttributes } from '../infra/search-attributes';
import { startRun } from '../client/runs';
import { createQubinodeWorker } from '../workers/qubinode-worker';

/**
 * Per-task overhead of the dagRun interpreter against a plain hand-written workflow calling the
 * same no-op activity: same server, same worker, same run. A benchmark, not a test: it prints figures.
 */

const N = Number(process.env.BENCH_TASKS ?? 200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function dagYaml(shape: 'chain' | 'fanout'): string {
  const tasks = Array.from({ length: N }, (_, index) => {
    const needs = shape === 'chain' && index > 0 ? `\n    needs: t${index - 1}` : '';
    return `  - id: t${index}\n    uses: noop${needs}`;
  });
  return `id: bench-${shape}\nconcurrency: ${N}\ntasks:\n${tasks.join('\n')}\n`;
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
  const running = await createQubinodeWorker({ config: { ...config, taskQueue }, logger, taskQueue, workflowBundle });
  const { worker } = running;
  const registry = new ActionRegistry();

  const timeIt = async (start: () => Promise<{ result(): Promise<unknown> }>): Promise<number> => {
    const began = process.hrtime.bigint();
    const handle = await start();
    await handle.result();
    return Number(process.hrtime.bigint() - began) / 1e6;
  };

  const rows: string[] = [];
  await worker.runUntil(async () => {
    for (const shape of ['chain', 'fanout'] as const) {
      const dag = compileDagFile({ repo: 'bench', path: `${shape}.yaml`, commit: 'bench', text: dagYaml(shape) }, { registry });
      const interpreted: number[] = [];
      const plain: number[] = [];
      for (let round = 0; round < ROUNDS; round += 1) {
        interpreted.push(
          await timeIt(async () => {
            const started = await startRun(temporal.client, { dag, params: {}, taskQueue });
            return temporal.client.workflow.getHandle(started.runId);
          }),
        );
        plain.push(
          await timeIt(() =>
            temporal.client.workflow.start(shape === 'chain' ? 'plainChain' : 'plainFanOut', { taskQueue, workflowId: `bench/plain-${shape}/${randomUUID()}`, args: [N] }),
          ),
        );
      }
      const dagMs = median(interpreted);
      const plainMs = median(plain);
      rows.push(
        `${shape.padEnd(7)} dagRun ${(dagMs / N).toFixed(2).padStart(6)} ms/task (${dagMs.toFixed(0)} ms)   plain ${(plainMs / N).toFixed(2).padStart(6)} ms/task (${plainMs.toFixed(0)} ms)   ratio ${(dagMs / plainMs).toFixed(2)}x`,
      );
    }
  });
  await running.close();
  await temporal.close();
  console.log(`\ndagRun overhead vs a plain workflow, ${N} no-op tasks, median of ${ROUNDS} rounds (aim: ratio within 1.5x)`);
  for (const row of rows) console.log(`  ${row}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
