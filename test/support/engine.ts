import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { loadConfig, type QubinodeConfig } from '../../config/config';
import { createLogger } from '../../config/logger';
import { connectClient, type TemporalClient } from '../../config/temporal-connection';
import { getRunStatus, startRun } from '../../client/runs';
import { actionRegistryWith, loadConfiguredPlugins } from '../../plugins/plugin-actions';
import { compileDagFile, type DagFile } from '../../dag-repos/compiler/compile';
import type { CompiledDag } from '../../dag-repos/compiler/compiled-dag';
import { resolveParams } from '../../dag-repos/schema/params';
import { ensureTemporalServer } from '../../infra/temporal-dev-server';
import { registerSearchAttributes } from '../../infra/search-attributes';
import type { DagRunStatus } from '../../workflows/run-status';
import { createQubinodeWorker } from '../../workers/qubinode-worker';
import { createAuditWorker } from '../../workers/audit-worker';
import { testWorkflowBundle } from './workflow-bundle';
import { workerTemporalAccess } from '../../client/worker-access';

/**
 * A real engine for tests: the Temporal dev server (started if nothing listens), a worker on a
 * task queue of its own, and helpers to compile and run DAG text. Nothing here is mocked.
 */
export interface TestEngine {
  config: QubinodeConfig;
  client: Client;
  taskQueue: string;
  logDir: string;
  /** Compiles DAG YAML (other DAG texts can be given for `uses: dag`). */
  compile(text: string, others?: Record<string, string>): CompiledDag;
  /** Starts a run and returns its id without waiting. */
  start(dag: CompiledDag, params?: Record<string, unknown>, runKey?: string): Promise<string>;
  /** Starts a run and waits for its final status (failed runs resolve too). */
  run(dag: CompiledDag, params?: Record<string, unknown>): Promise<DagRunStatus>;
  wait(runId: string): Promise<DagRunStatus>;
  /** Starts one more worker, e.g. activity-only on another queue for runsOn. */
  addWorker(taskQueue: string, runWorkflows?: boolean): Promise<Worker>;
  close(): Promise<void>;
}

const logger = createLogger(process.env.QUBINODE_TEST_LOG_LEVEL ?? 'error', 'test');

export async function startTestEngine(options: { env?: NodeJS.ProcessEnv } = {}): Promise<TestEngine> {
  const logDir = mkdtempSync(path.join(tmpdir(), 'qubinode-logs-'));
  const config = { ...loadConfig({ ...process.env, ...options.env }), logDir };
  await ensureTemporalServer(config, logger, { detach: true });
  const temporal: TemporalClient = await connectClient(config.temporal);
  await registerSearchAttributes(temporal.connection, config.temporal.namespace);
  const taskQueue = `test-${randomUUID().slice(0, 8)}`;
  const workflowBundle = await testWorkflowBundle();
  const workers: { worker: Worker; done: Promise<void> }[] = [];

  const addWorker = async (queue: string, runWorkflows = queue === taskQueue): Promise<Worker> => {
    const created = await createQubinodeWorker({ temporalAccess: workerTemporalAccess, config: { ...config, taskQueue }, logger, taskQueue: queue, runWorkflows, workflowBundle });
    // Its host announcer, policy watch and connections stop with it: nothing of the engine may call Temporal after close().
    workers.push({ worker: created.worker, done: created.worker.run().finally(() => created.close()) });
    return created.worker;
  };
  await addWorker(taskQueue, true);
  // The audit log has a queue of its own (workflows/audit-ids.ts); every engine helps serve it, like every main worker.
  const audit = await createAuditWorker(config, workflowBundle);
  workers.push({ worker: audit.worker, done: audit.worker.run().finally(() => audit.close()) });

  const registry = actionRegistryWith(loadConfiguredPlugins(config));
  const compile = (text: string, others: Record<string, string> = {}): CompiledDag => {
    const files = new Map<string, DagFile>();
    for (const [name, other] of Object.entries(others)) files.set(`test/${name}`, { repo: 'test', path: `${name}.yaml`, commit: 'test', text: other });
    return compileDagFile(
      { repo: 'test', path: 'dag.yaml', commit: 'test', text },
      { registry, resolveDag: (ref) => files.get(ref) },
    );
  };
  const start = async (dag: CompiledDag, params: Record<string, unknown> = {}, runKey?: string): Promise<string> => {
    const started = await startRun(temporal.client, { dag, params: resolveParams(dag.params, params), taskQueue, runKey: runKey ?? randomUUID().slice(0, 12) });
    return started.runId;
  };
  const wait = async (runId: string): Promise<DagRunStatus> => {
    await temporal.client.workflow.getHandle(runId).result().catch(() => undefined);
    return getRunStatus(temporal.client, runId);
  };
  return {
    config,
    client: temporal.client,
    taskQueue,
    logDir,
    compile,
    start,
    run: async (dag, params) => wait(await start(dag, params)),
    wait,
    addWorker,
    close: async () => {
      for (const { worker } of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await Promise.all(workers.map(({ done }) => done.catch(() => undefined)));
      await temporal.close();
    },
  };
}

/** Per-task states of a run, for compact assertions: `{ a: 'succeeded', b: 'skipped' }`. */
export function taskStates(status: DagRunStatus): Record<string, string> {
  return Object.fromEntries(status.tasks.map((task) => [task.id, task.state]));
}
