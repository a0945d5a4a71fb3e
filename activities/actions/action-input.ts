import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { zodProblemsUnder } from '../../config/zod-problems';
import type { FailureType } from '../../dag-repos/actions/failure-types';

/** Failure type for `with` inputs that do not match the action's schema. Never retried. */
export const INVALID_ACTION_INPUT = 'InvalidActionInput' satisfies FailureType;

/**
 * Validates an action's `with` against its schema, applying defaults.
 * Throws a non-retryable `InvalidActionInput` failure whose message lists each field path.
 */
export function parseActionInput<S extends z.ZodType>(action: string, schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = zodProblemsUnder(result.error, 'with');
  throw ApplicationFailure.create({
    type: INVALID_ACTION_INPUT,
    nonRetryable: true,
    message: `invalid input for ${action}: ${problems.join('; ')}`,
    details: [{ issues: problems }],
  });
}
