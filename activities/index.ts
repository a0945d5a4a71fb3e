import * as path from 'node:path';
import type { Logger } from 'pino';
import type { DagDirectory } from '../config/config';
import { ANSIBLE_NON_RETRYABLE_ERRORS, createAnsibleActivities } from './actions/ansible';
import { DIAG_NON_RETRYABLE_ERRORS, createDiagActivities } from './diag/diag';
import { KCLI_NON_RETRYABLE_ERRORS, createKcliActivities } from './actions/kcli';
import { PREFLIGHT_FAILED, createPreflightActivities } from './platform/host-preflight';
import { HTTP_CHECK_NON_RETRYABLE_ERRORS, createHttpCheckActivities } from './actions/http-check';
import { createNetworkCheckpointActivities } from './actions/network-checkpoint';
import { createNoopActivities } from './actions/noop';
import { createNotifyActivities } from './actions/notify';
import { createUpdatesActivities } from './actions/updates-detect';
import { createUpdatesApplyActivities } from './actions/updates-apply';
import { SHELL_NON_RETRYABLE_ERRORS, createShellActivities } from './actions/shell';

export { withSecretScope } from './process/secret-scope';

export interface ActivityDeps {
  /** Root of the per-run log directories. */
  logRoot: string;
  logger?: Logger;
  /** Where DAG repositories are checked out, to find playbooks and plans a DAG names. */
  dagDirectories?: readonly DagDirectory[];
  /** The worker's data directory (state that must outlive the worker, e.g. network checkpoints); defaults to the parent of logRoot. */
  dataDir?: string;
}

/** Every action activity, as the worker registers them: `shell`, `httpCheck`, `noop`. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createShellActivities(deps),
    ...createHttpCheckActivities(deps),
    ...createNoopActivities(),
    ...createNotifyActivities(deps.logger ? { logger: deps.logger } : {}),
    ...createUpdatesActivities(),
    ...createUpdatesApplyActivities(deps),
    ...createAnsibleActivities(deps),
    ...createDiagActivities(),
    ...createKcliActivities(deps),
    ...createPreflightActivities(),
    ...createNetworkCheckpointActivities({ dataDir: deps.dataDir ?? path.dirname(deps.logRoot), logRoot: deps.logRoot, ...(deps.logger ? { logger: deps.logger } : {}) }),
  };
}

/** The activity interface, for `proxyActivities<Activities>()` in workflows (import as a type). */
export type Activities = ReturnType<typeof createActivities>;

/** Failure types of these activities that retrying cannot fix; for `nonRetryableErrorTypes`. */
export const ACTION_NON_RETRYABLE_ERRORS: readonly string[] = [
  ...new Set([...SHELL_NON_RETRYABLE_ERRORS, ...HTTP_CHECK_NON_RETRYABLE_ERRORS, ...ANSIBLE_NON_RETRYABLE_ERRORS, ...DIAG_NON_RETRYABLE_ERRORS, ...KCLI_NON_RETRYABLE_ERRORS, PREFLIGHT_FAILED]),
];
