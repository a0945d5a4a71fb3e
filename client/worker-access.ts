import { announceHost, announceLeaving, hostLastSeen } from './hosts';
import { policyForRepo, recordExceptions } from './repo-policy';
import { RunAlreadyExistsError, runStartOptions, startRun } from './runs';

/**
 * The client calls a worker makes (workers/temporal-access.ts says which), handed to the worker by
 * whoever starts it: the CLI's `qubinode worker` and `qubinode up`, tests and benchmarks.
 */
export const workerTemporalAccess = {
  announceHost,
  announceLeaving,
  hostLastSeen,
  policyForRepo,
  recordExceptions,
  runs: {
    start: startRun,
    startOptions: runStartOptions,
    isAlreadyStarted: (error: unknown): boolean => error instanceof RunAlreadyExistsError,
  },
};
