import * as path from 'node:path';
import type { Command } from 'commander';
import type * as ApiMain from '../../api/main';
import type { StartedApi } from '../../api/main';
import type * as SearchAttributes from '../../infra/search-attributes';
import type * as DevServer from '../../infra/temporal-dev-server';
import type * as WorkersMain from '../../workers/main';
import type * as WorkerAccess from '../../client/worker-access';
import type { CliContext } from '../context';
import { watchStopSignals } from '../stop-signals';

// Loaded by the command that runs them: `qubinode --help` and the other commands never pay for them.
const apiMain = (): typeof ApiMain => require('../../api/main') as typeof ApiMain;
const workersMain = (): typeof WorkersMain => require('../../workers/main') as typeof WorkersMain;
// The worker makes client calls of its own (announcements, policy reads, trigger runs): it is handed them here.
const workerTemporalAccess = (): typeof WorkerAccess.workerTemporalAccess => (require('../../client/worker-access') as typeof WorkerAccess).workerTemporalAccess;
const devServer = (): typeof DevServer => require('../../infra/temporal-dev-server') as typeof DevServer;
const registerSearchAttributes: typeof SearchAttributes.registerSearchAttributes = (...args) => (require('../../infra/search-attributes') as typeof SearchAttributes).registerSearchAttributes(...args);

type Logger = CliContext['logger'];
type RunningWorker = Awaited<ReturnType<typeof WorkersMain.createQubinodeWorker>>;
type RunningAuditWorker = Awaited<ReturnType<typeof WorkersMain.createAuditWorker>>;
type Worker = RunningWorker['worker'];

/** Asks each worker that runs to stop (the SDK's own signal handler may have asked already, or not yet be installed). */
function shutdownWorkers(workers: readonly (Worker | undefined)[]): void {
  for (const worker of workers) {
    if (worker?.getState() !== 'RUNNING') continue;
    try {
      worker.shutdown();
    } catch {
      // Already stopping.
    }
  }
}

/** How long one step of a stop may take before the next runs anyway (an API answering a long request, say). */
const STOP_STEP_MS = 15_000;

/** Runs every step of a stop in order; one that fails or hangs is reported and the rest still run. */
async function stopAll(steps: readonly (readonly [string, (() => Promise<unknown>) | undefined])[], logger: Logger): Promise<void> {
  for (const [what, step] of steps) {
    if (!step) continue;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_STEP_MS)));
    try {
      if ((await Promise.race([step(), late])) === 'late') logger.warn(`${what} did not stop within ${STOP_STEP_MS / 1000} s; going on without it`);
    } catch (error) {
      logger.warn({ err: error }, `could not stop ${what} cleanly`);
    } finally {
      clearTimeout(timer);
    }
  }
}

export function registerServiceCommands(program: Command, context: CliContext): void {
  program
    .command('up')
    .description('Start everything on this machine: Temporal (reused if running), a worker and the HTTP API; Ctrl-C stops it all')
    .option('--no-api', 'do not start the HTTP API')
    .option('--no-worker', 'do not start workers here (a control plane whose workers run as `qubinode worker`)')
    .action(async (options: { api: boolean; worker: boolean }) => {
      const { config } = context;
      const logger = context.logger;
      const signals = watchStopSignals({ stopping: 'the workers (running tasks get up to 10 s), the HTTP API and the Temporal dev server if started here' });
      // A dev server this process started never outlives it, however it ends.
      let killServer: () => void = () => undefined;
      const killOnExit = (): void => killServer();
      process.once('exit', killOnExit);
      signals.onForce(() => killServer());
      const server = await devServer().ensureTemporalServer(config, logger, { onSpawn: (kill) => (killServer = kill) });
      let running: RunningWorker | undefined;
      let audit: RunningAuditWorker | undefined;
      let started: StartedApi | undefined;
      try {
        const temporal = await context.serviceTemporal();
        await registerSearchAttributes(temporal.connection, config.temporal.namespace);
        // The worker (its workflow bundle builds in a child process), the API and the catalog listing start side
        // by side; whatever did start is known to the stop below even when another part failed.
        const workersReady = (async (): Promise<void> => {
          if (!options.worker || signals.signalled) return;
          running = await workersMain().createQubinodeWorker({ config, logger, temporalAccess: workerTemporalAccess() });
          if (!signals.signalled) audit = await workersMain().createAuditWorker(config);
        })();
        const apiReady = (async (): Promise<void> => {
          if (options.api && !signals.signalled) started = await apiMain().startApi({ config, logger, client: temporal.client, registry: context.registry });
        })();
        const [workersDone, apiDone, catalogDone] = await Promise.allSettled([workersReady, apiReady, context.catalog()]);
        for (const done of [workersDone, apiDone, catalogDone]) if (done.status === 'rejected') throw done.reason;
        if (!signals.signalled && catalogDone.status === 'fulfilled') {
          const entries = catalogDone.value.list();
          const invalid = entries.filter((entry) => !entry.valid);
          const api = started?.server;
          console.log(`Qubinode Navigator is up.
  Temporal      ${server.address}${server.owned ? ` (dev server started here; data in ${path.relative(process.cwd(), path.join(config.dataDir, 'temporal')) || '.'})` : ' (reused; left running on exit)'}
  Web UI        ${server.uiUrl}
  worker        ${running ? `task queue "${config.taskQueue}"` : 'none here (--no-worker)'}${api ? `\n  HTTP API      http://${config.api.host}:${config.api.port}  (bearer token: ${started?.tokenSource ?? ''})\n  web page      http://${config.api.host}:${config.api.port}/ui  (sign in with a token)` : ''}
  DAGs          ${entries.length} loaded${invalid.length ? `, ${invalid.length} invalid: ${invalid.map((entry) => entry.id).join(', ')}` : ''}

Try, in another terminal:
  npx qubinode run examples/hello --wait
Ctrl-C stops everything.`);
        }
        const workers = [running?.worker, audit?.worker];
        void signals.requested.then(() => shutdownWorkers(workers));
        // Workers return from run() once shut down; without any, the signal alone ends the wait.
        await Promise.all(running || audit ? [running?.worker.run(), audit?.worker.run()] : [signals.requested]);
      } finally {
        // Each step runs even when one before it fails, so the dev server is always reached.
        await stopAll(
          [
            ['the HTTP API', started ? () => (started as StartedApi).server.close() : undefined],
            ['the worker', running?.close],
            ['the audit worker', audit?.close],
            ['the Temporal client', () => context.close()],
            ['the Temporal dev server', server.owned ? () => server.stop() : undefined],
          ],
          logger,
        );
        process.off('exit', killOnExit);
        signals.dispose();
        console.log('stopped');
      }
    });

  program
    .command('worker')
    .description('Run a worker: the main queue runs workflows and activities; --queue NAME runs the activities of tasks with runsOn: NAME')
    .option('--queue <name>', 'task queue to poll (default: QUBINODE_TASK_QUEUE)')
    .option('--activities-only', 'do not run workflows on this queue')
    .action(async (options: { queue?: string; activitiesOnly?: boolean }) => {
      const running = await workersMain().createQubinodeWorker({
        temporalAccess: workerTemporalAccess(),
        config: context.config,
        logger: context.logger,
        ...(options.queue ? { taskQueue: options.queue } : {}),
        ...(options.activitiesOnly ? { runWorkflows: false } : {}),
      });
      // Workers that run workflows on the main queue also serve the audit log's queue.
      const runsWorkflows = !options.activitiesOnly && (options.queue ?? context.config.taskQueue) === context.config.taskQueue;
      const audit = runsWorkflows ? await workersMain().createAuditWorker(context.config) : undefined;
      console.log(`worker polling "${options.queue ?? context.config.taskQueue}"; Ctrl-C stops it`);
      const signals = watchStopSignals({ stopping: 'the worker (running tasks get up to 10 s)' });
      void signals.requested.then(() => shutdownWorkers([running.worker, audit?.worker]));
      try {
        await Promise.all([running.worker.run(), audit?.worker.run()]);
      } finally {
        await stopAll([['the worker', running.close], ['the audit worker', audit?.close]], context.logger);
        signals.dispose();
      }
    });

  const server = program.command('server').description('The local Temporal dev server');
  server
    .command('start')
    .description('Start the Temporal dev server in the background (reused when already listening)')
    .action(async () => {
      const handle = await devServer().ensureTemporalServer(context.config, context.logger, { detach: true });
      const temporal = await context.serviceTemporal();
      const added = await registerSearchAttributes(temporal.connection, context.config.temporal.namespace);
      console.log(`Temporal ${handle.address}${handle.pid ? ` (pid ${handle.pid})` : ' (already running)'}; Web UI ${handle.uiUrl}${added.length ? `; registered ${added.join(', ')}` : ''}`);
    });
  server
    .command('stop')
    .description('Stop a dev server started with `qubinode server start`')
    .action(async () => {
      console.log((await devServer().stopDetachedServer(context.config)) ? 'stopped' : 'no dev server started by qubinode is recorded');
    });
  server
    .command('status')
    .description('Whether a Temporal server answers at TEMPORAL_ADDRESS')
    .action(async () => {
      const [host, port] = [context.config.temporal.address.replace(/:\d+$/, ''), Number(context.config.temporal.address.split(':').at(-1))];
      const up = await devServer().isListening(host, port);
      console.log(up ? `Temporal answers at ${context.config.temporal.address}` : `nothing listens at ${context.config.temporal.address}`);
      if (!up) process.exitCode = 1;
    });
}
