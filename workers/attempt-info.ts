import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';

type AnyActivity = (...args: never[]) => Promise<unknown>;

/**
 * Adds the attempt number to every activity result and failure, so the run status can say
 * "succeeded on attempt 3" without the workflow seeing each retry.
 */
export function withAttemptInfo<T extends Record<string, AnyActivity>>(activities: T): T {
  const wrapped: Record<string, AnyActivity> = {};
  for (const [name, activity] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      const attempt = Context.current().info.attempt;
      try {
        const result = await activity(...args);
        return result !== null && typeof result === 'object' && !Array.isArray(result) ? { ...result, attempt } : result;
      } catch (error) {
        if (!(error instanceof ApplicationFailure)) throw error;
        const [first, ...rest] = error.details ?? [];
        const details = first !== null && typeof first === 'object' && !Array.isArray(first) ? { ...first, attempt } : { attempt };
        throw ApplicationFailure.create({
          type: error.type ?? 'Error',
          message: error.message,
          nonRetryable: error.nonRetryable ?? false,
          details: [details, ...rest],
          ...(error.nextRetryDelay ? { nextRetryDelay: error.nextRetryDelay } : {}),
          ...(error.cause ? { cause: error.cause } : {}),
        });
      }
    };
  }
  return wrapped as T;
}
