import type { Client } from '@temporalio/client';
import type { RunStarter } from '../activities/platform/repo-triggers';
import type { HostAnnouncement, HostLeaving, HostStatus } from '../workflows/host-registry-state';
import type { PendingException, PolicyForRepo } from '../workflows/repo-policy-types';

/** The repository policy store a worker reads: the policy workflow and the queue that runs it. */
export interface PolicyStoreRef {
  client: Client;
  workflowId: string;
  taskQueue: string;
}

/**
 * The Temporal client calls a worker makes besides polling its queues: announcing its host, reading
 * the known hosts and repository policies, starting runs for triggers. They are the client's calls
 * (client/ holds them for the CLI and the API too), and workers sit below client in the layer rules,
 * so whoever starts a worker hands them in: client/worker-access.ts is the implementation.
 */
export interface WorkerTemporalAccess {
  announceHost(client: Client, announcement: HostAnnouncement): Promise<void>;
  announceLeaving(client: Client, leaving: HostLeaving): Promise<void>;
  hostLastSeen(client: Client, queue: string): Promise<HostStatus>;
  policyForRepo(store: PolicyStoreRef, repo: string): Promise<PolicyForRepo>;
  recordExceptions(store: PolicyStoreRef, found: PendingException[]): Promise<unknown>;
  runs: RunStarter;
}
