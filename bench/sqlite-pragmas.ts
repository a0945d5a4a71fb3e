import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createLogger } from '../config/logger';
import { findTemporalCli, isListening } from '../infra/temporal-dev-server';
import { installSdkRuntime } from '../workers/sdk-logger';

/**
 * How the dev server's SQLite settings change workflow latency: the same sequential workflow
 * against a throw-away server per setting. Prints figures; informs infra/temporal-dev-server.ts SQLITE_PRAGMAS.
 */

const TASKS = Number(process.env.BENCH_PRAGMA_TASKS ?? 50);

interface Variant {
  name: string;
  args: string[];
}

async function startServer(cli: string, port: number, variant: Variant): Promise<ChildProcess> {
  const child = spawn(cli, ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'error', ...variant.args], { stdio: 'ignore', detached: true });
  const deadline = Date.now() + 60_000;
  while (!(await isListening('127.0.0.1', port))) {
    if (Date.now() > deadline) throw new Error(`server for ${variant.name} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return child;
}

async function main(): Promise<void> {
  const cli = findTemporalCli();
  if (!cli) throw new Error('Temporal CLI not found; run bash infra/setup.sh');
  installSdkRuntime(createLogger('error', 'bench'));
  const dir = mkdtempSync(path.join(tmpdir(), 'qubinode-pragmas-'));
  const variants: Variant[] = [
    { name: 'in-memory (no file)', args: [] },
    { name: 'file, SQLite defaults', args: ['--db-filename', path.join(dir, 'default.db')] },
    { name: 'file, journal_mode=wal', args: ['--db-filename', path.join(dir, 'wal.db'), '--sqlite-pragma', 'journal_mode=wal'] },
    { name: 'file, wal + synchronous=normal (used)', args: ['--db-filename', path.join(dir, 'walnormal.db'), '--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal'] },
  ];
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./workflows'), logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: console.error } });
  const lines: string[] = [];
  let port = 17233;
  for (const variant of variants) {
    port += 2;
    const server = await startServer(cli, port, variant);
    try {
      const connection = await NativeConnection.connect({ address: `127.0.0.1:${port}` });
      const taskQueue = `pragma-${randomUUID().slice(0, 6)}`;
      const worker = await Worker.create({ connection, taskQueue, workflowBundle, activities: createActivities({ logRoot: dir }) });
      const clientConnection = await Connection.connect({ address: `127.0.0.1:${port}` });
      const client = new Client({ connection: clientConnection });
      await worker.runUntil(async () => {
        await client.workflow.execute('plainChain', { taskQueue, workflowId: `warm-${randomUUID()}`, args: [5] });
        const began = process.hrtime.bigint();
        await client.workflow.execute('plainChain', { taskQueue, workflowId: `chain-${randomUUID()}`, args: [TASKS] });
        const ms = Number(process.hrtime.bigint() - began) / 1e6;
        lines.push(`${variant.name.padEnd(40)} ${(ms / TASKS).toFixed(1).padStart(6)} ms per sequential activity`);
      });
      await clientConnection.close();
      await connection.close();
    } finally {
      process.kill(-(server.pid ?? 0), 'SIGTERM');
    }
  }
  rmSync(dir, { recursive: true, force: true });
  console.log(`\nTemporal dev server SQLite settings, ${TASKS} sequential no-op activities each`);
  for (const line of lines) console.log(`  ${line}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
