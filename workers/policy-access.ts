import type { QubinodeConfig } from '../config/config';
import { connectClient, type TemporalClient } from '../client/connection';
import { policyForRepo, recordExceptions, type PendingException, type PolicyForRepo, type PolicyStore } from '../client/repo-policy';

/** Repository policies as a worker reads them (its gate, its syncs): a Temporal client made on first use and closed with the worker. */
export function createPolicyAccess(config: Pick<QubinodeConfig, 'temporal' | 'policy' | 'taskQueue'>) {
  let temporal: Promise<TemporalClient> | undefined;
  const store = async (): Promise<PolicyStore> => {
    temporal ??= connectClient(config.temporal);
    return { client: (await temporal).client, workflowId: config.policy.workflowId, taskQueue: config.taskQueue };
  };
  return {
    policyFor: async (repo: string): Promise<PolicyForRepo> => policyForRepo(await store(), repo),
    recordExceptions: async (found: PendingException[]): Promise<void> => {
      await recordExceptions(await store(), found);
    },
    close: async (): Promise<void> => {
      if (temporal) await (await temporal).close();
    },
  };
}
export type PolicyAccess = ReturnType<typeof createPolicyAccess>;
