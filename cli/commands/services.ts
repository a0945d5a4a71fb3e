import type { Command } from 'commander';
import { startApi, type StartedApi } from '../../api/main';
import { registerSearchAttributes } from '../../infra/search-attributes';
import { ensureTemporalServer, stopDetachedServer, isListening } from '../../infra/temporal-dev-server';
import { createAuditWorker, createQubinodeWorker } from '../../workers/main';
import type { CliContext } from '../context';

function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
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
      const server = await ensureTemporalServer(config, logger);
      const temporal = await context.serviceTemporal();
      await registerSearchAttributes(temporal.connection, config.temporal.namespace);
      const running = options.worker ? await createQubinodeWorker({ config, logger }) : undefined;
      const audit = options.worker ? await createAuditWorker(config) : undefined;
      const started: StartedApi | undefined = options.api
        ? await startApi({ config, logger, client: temporal.client, registry: context.registry })
        : undefined;
      const api = started?.server;
      const tokenSource = started?.tokenSource ?? '';
      const entries = (await context.catalog()).list();
      const invalid = entries.filter((entry) => !entry.valid);
      console.log(`Qubinode Navigator is up.
  Temporal      ${server.address}${server.owned ? ' (dev server started here; data in .data/temporal)' : ' (reused)'}
  Web UI        ${server.uiUrl}
  worker        ${running ? `task queue "${config.taskQueue}"` : 'none here (--no-worker)'}${api ? `\n  HTTP API      http://${config.api.host}:${config.api.port}  (bearer token: ${tokenSource})` : ''}
  DAGs          ${entries.length} loaded${invalid.length ? `, ${invalid.length} invalid: ${invalid.map((entry) => entry.id).join(', ')}` : ''}

Try, in another terminal:
  npx qubinode run examples/hello --wait
Ctrl-C stops everything.`);
      try {
        // Workers stop on SIGINT/SIGTERM by themselves; without one, the API waits for the signal here.
        await Promise.all(running ? [running.worker.run(), audit?.worker.run()] : [stopSignal()]);
      } finally {
        await api?.close();
        await running?.close();
        await audit?.close();
        await context.close();
        await server.stop();
        console.log('stopped');
      }
    });

  program
    .command('worker')
    .description('Run a worker: the main queue runs workflows and activities; --queue NAME runs the activities of tasks with runsOn: NAME')
    .option('--queue <name>', 'task queue to poll (default: QUBINODE_TASK_QUEUE)')
    .option('--activities-only', 'do not run workflows on this queue')
    .action(async (options: { queue?: string; activitiesOnly?: boolean }) => {
      const running = await createQubinodeWorker({
        config: context.config,
        logger: context.logger,
        ...(options.queue ? { taskQueue: options.queue } : {}),
        ...(options.activitiesOnly ? { runWorkflows: false } : {}),
      });
      // Workers that run workflows on the main queue also serve the audit log's queue.
      const runsWorkflows = !options.activitiesOnly && (options.queue ?? context.config.taskQueue) === context.config.taskQueue;
      const audit = runsWorkflows ? await createAuditWorker(context.config) : undefined;
      console.log(`worker polling "${options.queue ?? context.config.taskQueue}"; Ctrl-C stops it`);
      try {
        await Promise.all([running.worker.run(), audit?.worker.run()]);
      } finally {
        await running.close();
        await audit?.close();
      }
    });

  const server = program.command('server').description('The local Temporal dev server');
  server
    .command('start')
    .description('Start the Temporal dev server in the background (reused when already listening)')
    .action(async () => {
      const handle = await ensureTemporalServer(context.config, context.logger, { detach: true });
      const temporal = await context.serviceTemporal();
      const added = await registerSearchAttributes(temporal.connection, context.config.temporal.namespace);
      console.log(`Temporal ${handle.address}${handle.pid ? ` (pid ${handle.pid})` : ' (already running)'}; Web UI ${handle.uiUrl}${added.length ? `; registered ${added.join(', ')}` : ''}`);
    });
  server
    .command('stop')
    .description('Stop a dev server started with `qubinode server start`')
    .action(async () => {
      console.log((await stopDetachedServer(context.config)) ? 'stopped' : 'no dev server started by qubinode is recorded');
    });
  server
    .command('status')
    .description('Whether a Temporal server answers at TEMPORAL_ADDRESS')
    .action(async () => {
      const [host, port] = [context.config.temporal.address.replace(/:\d+$/, ''), Number(context.config.temporal.address.split(':').at(-1))];
      const up = await isListening(host, port);
      console.log(up ? `Temporal answers at ${context.config.temporal.address}` : `nothing listens at ${context.config.temporal.address}`);
      if (!up) process.exitCode = 1;
    });
}
