import type { QubinodeConfig } from '../config/config';
import { connectClient, type TemporalClient } from '../config/temporal-connection';
import type { PendingException, PolicyForRepo } from '../workflows/repo-policy-types';
import type { PolicyStoreRef, WorkerTemporalAccess } from './temporal-access';

/** Repository policies as a worker reads them (its gate, its syncs): a Temporal client made on first use and closed with the worker. */
export function createPolicyAccess(config: Pick<QubinodeConfig, 'temporal' | 'policy' | 'taskQueue'>, access: Pick<WorkerTemporalAccess, 'policyForRepo' | 'recordExceptions'>) {
  let temporal: Promise<TemporalClient> | undefined;
  const store = async (): Promise<PolicyStoreRef> => {
    temporal ??= connectClient(config.temporal);
    return { client: (await temporal).client, workflowId: config.policy.workflowId, taskQueue: config.taskQueue };
  };
  return {
    policyFor: async (repo: string): Promise<PolicyForRepo> => access.policyForRepo(await store(), repo),
    recordExceptions: async (found: PendingException[]): Promise<void> => {
      await access.recordExceptions(await store(), found);
    },
    close: async (): Promise<void> => {
      if (temporal) await (await temporal).close();
    },
  };
}
export type PolicyAccess = ReturnType<typeof createPolicyAccess>;
