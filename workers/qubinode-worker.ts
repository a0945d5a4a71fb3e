import * as path from 'node:path';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { QubinodeConfig } from '../config/config';
import type { Logger } from '../config/logger';
import { createActivities, withSecretScope } from '../activities';
import { workerIdentity } from '../activities/actions/host-reboot';
import { createAiActivities } from '../activities/platform/ai';
import { createAiService } from '../ai/create-ai-service';
import { connectClient, connectionOptions, type TemporalClient } from '../config/temporal-connection';
import { AttemptLedger } from '../activities/platform/attempt-ledger';
import { AttemptRecovery, withAttemptLedger } from './attempt-recovery';
import { startOrphanWatchdog } from './orphan-watchdog';
import { withAttemptInfo } from './attempt-info';
import { GitCache } from '../activities/platform/git/git-cache';
import type { SyncedSource } from '../ai/activity-types';
import { actionRegistryWith, loadConfiguredPlugins, pluginActivities } from '../plugins/plugin-actions';
import { createPlatformActivities } from './platform-activities';
import { checkoutSource, withRepoCheckout } from './repo-checkout';
import { installSdkRuntime } from './sdk-logger';
import { withActionMetrics } from './metrics';
import { hostAnnouncement, startHostAnnouncer } from './host-announce';
import { createPolicyAccess } from './policy-access';
import type { WorkerTemporalAccess } from './temporal-access';
import { loadHostPolicyCap, withPolicyGate } from '../activities/platform/policy-gate';
import { workflowBundle } from './workflow-bundle';

export interface QubinodeWorkerOptions {
  config: QubinodeConfig;
  logger: Logger;
  /** The client calls the worker makes (client/worker-access.ts): its starter hands them in. */
  temporalAccess: WorkerTemporalAccess;
  /** Defaults to the configured queue; a hypervisor's worker polls its own (runsOn). */
  taskQueue?: string;
  /** Only the main queue's workers run workflows; per-host workers run activities only. */
  runWorkflows?: boolean;
  /** A prebuilt workflow bundle (tests, benchmarks); otherwise the one cached under the data directory (built on a miss). */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Extra options, e.g. an identity; rarely needed. */
  overrides?: Partial<WorkerOptions>;
}

export interface RunningWorker {
  worker: Worker;
  connection: NativeConnection;
  taskQueue: string;
  /** Closes the worker's connections once `worker.run()` has returned. */
  close(): Promise<void>;
}


export async function createQubinodeWorker(options: QubinodeWorkerOptions): Promise<RunningWorker> {
  const { config } = options;
  const taskQueue = options.taskQueue ?? config.taskQueue;
  const runWorkflows = options.runWorkflows ?? taskQueue === config.taskQueue;
  // The host's own cap is read first: a worker whose cap file is unreadable must not start uncapped.
  const hostCap = config.policy.hostFile ? loadHostPolicyCap(config.policy.hostFile) : undefined;
  installSdkRuntime(options.logger, { metricsAddress: config.workerMetricsAddress });
  const connection = await NativeConnection.connect(connectionOptions(config.temporal));
  // Plugins add actions: their activities run here, and synced DAGs may use them.
  const plugins = loadConfiguredPlugins(config);
  const platform = createPlatformActivities({ ...config, taskQueue: config.taskQueue }, options.temporalAccess, actionRegistryWith(plugins));
  const gitCache = new GitCache(path.join(config.dataDir, 'git'));
  const checkout = (source: SyncedSource): Promise<string> => checkoutSource(gitCache, source);
  const policies = createPolicyAccess(config, options.temporalAccess);
  const policyGate = { registry: actionRegistryWith(plugins), labels: config.hostLabels, policyFor: policies.policyFor, ...(hostCap ? { cap: hostCap } : {}) };
  const ledger = new AttemptLedger(path.join(config.dataDir, 'attempts'));
  startOrphanWatchdog(ledger.directory);
  let completionClient: TemporalClient | undefined;
  const recovery = new AttemptRecovery(
    ledger,
    async (taskToken, failure) => {
      completionClient ??= await connectClient(config.temporal);
      await completionClient.client.activity.fail(taskToken, failure);
    },
    options.logger,
  );
  // Counted and timed once here, around everything, so every action and platform activity shows on /metrics.
  const activities = withActionMetrics({
    // The policy gate refuses a task its repository's policy or this host's cap forbids, before any secret is resolved.
    // The secret scope resolves the author's references and redacts whatever leaves an action; the attempt
    // number is added around it, so a failure of the scope itself (a missing secret) carries it too.
    // The ledger is outermost: a record on disk for as long as the attempt runs, for the next worker if this one dies.
    ...withAttemptLedger(withAttemptInfo(withPolicyGate(withSecretScope(withRepoCheckout({ ...createActivities({ logRoot: config.logDir, dataDir: config.dataDir, logger: options.logger, dagDirectories: config.dagDirectories }), ...pluginActivities(plugins) }, gitCache, config.dagDirectories)), policyGate)), ledger, recovery, options.logger),
    ...platform.activities,
    // One AI service per worker: the model is loaded on the first analysis and shared by all.
    ...createAiActivities(createAiService(config), checkout),
  });
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue,
    activities,
    // Without a prebuilt bundle, the cached one is used or built in a child process: webpack never runs in the worker.
    ...(runWorkflows ? { workflowBundle: options.workflowBundle ?? { codePath: (await workflowBundle({ dataDir: config.dataDir, logger: options.logger })).codePath } } : {}),
    maxCachedWorkflows: config.workflowCacheSize,
    maxConcurrentActivityTaskExecutions: config.maxConcurrentActivities,
    shutdownGraceTime: '10s',
    // A new identity each start: host.reboot tells a worker that came back from the one that left by it.
    identity: workerIdentity(),
    // A workflow task waits this long for the worker that has the run cached before any worker may take it:
    // when that worker was killed, this is the pause before the run moves again.
    stickyQueueScheduleToStartTimeout: '3s',
    // Cancellation reaches an activity only with a heartbeat: send them often enough that a cancelled
    // run kills its processes within about a second, not 0.8 x the heartbeat timeout later.
    maxHeartbeatThrottleInterval: '1s',
    ...options.overrides,
  });
  // Before polling: the attempts a dead predecessor left on this host are stopped and reported lost, so
  // their runs move on now rather than after a heartbeat timeout.
  await recovery.sweep().catch((error: unknown) => options.logger.warn({ err: error }, 'could not recover every lost attempt at start'));
  // The known hosts learn of this worker before it polls (a run naming its queue may start at once); an
  // unreachable Temporal only delays that, in the background.
  const announcer = startHostAnnouncer({
    settings: config.temporal,
    access: options.temporalAccess,
    logger: options.logger,
    announcement: hostAnnouncement({ queue: taskQueue, identity: worker.options.identity, runsWorkflows: runWorkflows, labels: config.hostLabels }),
    alive: () => ['INITIALIZED', 'RUNNING'].includes(worker.getState()),
  });
  await Promise.race([announcer.firstAttempt, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
  options.logger.info({ taskQueue, runWorkflows, cache: config.workflowCacheSize }, 'worker ready');
  return {
    worker,
    connection,
    taskQueue,
    close: async () => {
      await announcer.stop();
      await platform.close();
      await completionClient?.close();
      await policies.close();
      await connection.close();
    },
  };
}
