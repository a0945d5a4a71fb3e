/**
 * A Qubinode worker as an OS process of its own (the main queue: workflows and activities), for
 * tests and benchmarks that kill it with SIGKILL. Configured by the environment like `qubinode worker`,
 * but with the prebuilt test workflow bundle so a restart takes a second, not a bundling.
 */
import { loadConfig } from '../../config/config';
import { createLogger } from '../../config/logger';
import { createQubinodeWorker } from '../../workers/qubinode-worker';
import { testWorkflowBundle } from './workflow-bundle';
import { workerTemporalAccess } from '../../client/worker-access';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(process.env.QUBINODE_TEST_LOG_LEVEL ?? 'warn', 'worker');
  const running = await createQubinodeWorker({ temporalAccess: workerTemporalAccess, config, logger, workflowBundle: await testWorkflowBundle() });
  process.stdout.write('worker ready\n');
  await running.worker.run();
  await running.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
