import type { ActionRegistry } from '../actions/registry';
import type { PinnedAction } from './compiled-dag';
import type { DocPath } from './source-map';
import { didYouMean } from '../schema/suggest';

/** A check or hook of a rollout that cannot be pinned, and where it is written. */
export interface RolloutActionProblem {
  path: DocPath;
  message: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The `uses` of every action a rollout runs itself (analysis checks, blue-green hooks), with where each is written. */
function nestedUses(input: Record<string, unknown>): { uses: string; at: DocPath }[] {
  const found: { uses: string; at: DocPath }[] = [];
  const analysis = input.analysis;
  if (isRecord(analysis) && Array.isArray(analysis.checks)) {
    analysis.checks.forEach((check: unknown, index) => {
      if (isRecord(check) && typeof check.uses === 'string') found.push({ uses: check.uses, at: ['analysis', 'checks', index, 'uses'] });
    });
  }
  for (const hook of ['switch', 'switchBack']) {
    const call = input[hook];
    if (isRecord(call) && typeof call.uses === 'string') found.push({ uses: call.uses, at: [hook, 'uses'] });
  }
  return found;
}

/**
 * Pins the actions a rollout task runs itself, from the compiler's registry (plugins included), so the rollout
 * workflow runs what was checked at sync, like every other task of the plan. Each must be a single activity.
 */
export function pinRolloutActions(registry: ActionRegistry, input: Record<string, unknown>): { actions: Record<string, PinnedAction>; problems: RolloutActionProblem[] } {
  const actions: Record<string, PinnedAction> = {};
  const problems: RolloutActionProblem[] = [];
  for (const { uses, at } of nestedUses(input)) {
    const definition = registry.get(uses);
    if (!definition) {
      problems.push({ path: at, message: `unknown action "${uses}"${didYouMean(uses, registry.names())}` });
      continue;
    }
    if (definition.execution.kind !== 'activity') {
      problems.push({ path: at, message: `"${uses}" cannot be a rollout check or hook: it is not a single activity (a ${definition.execution.kind} action)` });
      continue;
    }
    actions[definition.name] = {
      action: definition.name,
      execution: definition.execution,
      nonRetryableErrors: [...definition.nonRetryableErrors],
      ...(definition.heartbeatTimeoutMs ? { heartbeatTimeoutMs: definition.heartbeatTimeoutMs } : {}),
      defaultTimeoutMs: definition.defaultTimeoutMs,
    };
  }
  return { actions, problems };
}
