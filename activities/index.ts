import type { Logger } from 'pino';
import { HTTP_CHECK_NON_RETRYABLE_ERRORS, createHttpCheckActivities } from './http-check';
import { createNoopActivities } from './noop';
import { SHELL_NON_RETRYABLE_ERRORS, createShellActivities } from './shell';

export interface ActivityDeps {
  /** Root of the per-run log directories. */
  logRoot: string;
  logger?: Logger;
}

/** Every action activity, as the worker registers them: `shell`, `httpCheck`, `noop`. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createShellActivities(deps),
    ...createHttpCheckActivities(deps),
    ...createNoopActivities(),
  };
}

/** The activity interface, for `proxyActivities<Activities>()` in workflows (import as a type). */
export type Activities = ReturnType<typeof createActivities>;

/** Failure types of these activities that retrying cannot fix; for `nonRetryableErrorTypes`. */
export const ACTION_NON_RETRYABLE_ERRORS: readonly string[] = [
  ...new Set([...SHELL_NON_RETRYABLE_ERRORS, ...HTTP_CHECK_NON_RETRYABLE_ERRORS]),
];
