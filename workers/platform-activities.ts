import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import type { QubinodeConfig } from '../config/config';
import { createGitSyncActivities } from '../activities/platform/git-sync';
import { createHostLockActivities } from '../activities/platform/host-lock-requests';
import { createHostRebootActivities } from '../activities/actions/host-reboot';
import { GitCache } from '../activities/platform/git/git-cache';
import { createRepoTriggerActivities } from '../activities/platform/repo-triggers';
import { createTaskLogReadActivities } from '../activities/platform/task-log-read';
import { connectClient, type TemporalClient } from '../config/temporal-connection';
import * as workflowIds from '../workflows/workflow-ids';
import type { HostStatusActivities } from '../workflows/host-registry-state';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { createPolicyAccess } from './policy-access';
import type { WorkerTemporalAccess } from './temporal-access';

/**
 * Activities of the platform itself (not DAG actions): repository sync and what follows it.
 * They talk to Temporal through a client made on first use and closed with the worker.
 */
export function createPlatformActivities(config: QubinodeConfig, access: WorkerTemporalAccess, registry: ActionRegistry = new ActionRegistry()) {
  let temporal: Promise<TemporalClient> | undefined;
  const client = async (): Promise<Client> => {
    temporal ??= connectClient(config.temporal);
    return (await temporal).client;
  };
  // Each sync judges its commit by the repository's policy, read when the sync runs.
  const policies = createPolicyAccess(config, access);
  const activities = {
    ...createGitSyncActivities({ cache: new GitCache(path.join(config.dataDir, 'git')), registry, policy: policies }),
    ...createRepoTriggerActivities({ client, runs: access.runs, ids: workflowIds, taskQueue: config.taskQueue }),
    // Every worker answers for the logs it wrote, so the control plane can read a task that ran on any host.
    ...createTaskLogReadActivities({ logRoot: config.logDir }),
    // host.reboot: its host steps run on the host's worker, its wait for the host on the control plane's.
    ...createHostRebootActivities({ logRoot: config.logDir, reboot: config.reboot, client }),
    // One job per host: starting a host's lock with a request, and which of its holders still run.
    ...createHostLockActivities({ client }),
    // Whether a host's worker is there, for a run whose task waits on the host's queue.
    hostStatus: async ({ queue }) => access.hostLastSeen(await client(), queue),
  } satisfies Record<string, unknown> & HostStatusActivities;
  return {
    activities,
    close: async (): Promise<void> => {
      await policies.close();
      if (temporal) await (await temporal).close();
    },
  };
}
