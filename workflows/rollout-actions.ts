import * as wf from '@temporalio/workflow';
import { ActionRegistry } from '../dag-repos/actions/registry';
import type { RolloutCheck, RolloutHook, RolloutInput } from '../dag-repos/actions/rollout-inputs';
import type { CompiledDag, CompiledTask, PinnedAction } from '../dag-repos/compiler/compiled-dag';
import { secretRefsUnder, type SecretRef } from '../dag-repos/compiler/secret-references';
import { parseDuration } from '../dag-repos/schema/duration';
import { toTaskError } from './failures';
import type { RolloutAnalysis } from './rollback-status';
import { thresholdProblems, type RolloutTargetRef } from './rollout-strategies';
import { executeAction } from './task-executor';

/** What a rollout's checks and hooks run with: the rollout's run, its step DAG and the actions pinned with its plan. */
export interface RolloutActionContext {
  /** Queue of the rollout's workflows. */
  runQueue: string;
  runId: string;
  runKey: string;
  step: CompiledDag;
  actions: Record<string, PinnedAction> | undefined;
  secretRefs: SecretRef[] | undefined;
}

/** Only for rollouts started before checks and hooks were pinned: the built-in action, as it was then. */
const builtinActions = new ActionRegistry();
function builtinPin(name: string): PinnedAction | undefined {
  const definition = builtinActions.get(name);
  if (!definition) return undefined;
  return { action: definition.name, execution: definition.execution, nonRetryableErrors: [...definition.nonRetryableErrors], ...(definition.heartbeatTimeoutMs ? { heartbeatTimeoutMs: definition.heartbeatTimeoutMs } : {}), defaultTimeoutMs: definition.defaultTimeoutMs };
}

/** `{target}` and `{queue}` in a check's inputs, for the target it samples. */
function substitute(value: unknown, target: RolloutTargetRef): unknown {
  if (typeof value === 'string') return value.replaceAll('{target}', target.name).replaceAll('{queue}', target.queue);
  if (Array.isArray(value)) return value.map((item) => substitute(item, target));
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substitute(item, target)]));
  return value;
}

/** A one-off action task (a check or a blue-green hook) as executeAction expects it, from the plan's pinned action. */
function actionTask(id: string, call: RolloutCheck | RolloutHook, pinned: Record<string, PinnedAction> | undefined, secretRefs: SecretRef[] = []): CompiledTask {
  const definition = pinned ? pinned[call.uses] : builtinPin(call.uses);
  if (definition?.execution.kind !== 'activity') throw wf.ApplicationFailure.nonRetryable(`rollout ${id}: "${call.uses}" is not an action pinned with this run's plan`, 'InvalidActionInput');
  return {
    ...definition,
    id,
    with: call.with,
    nonRetryableErrors: [...definition.nonRetryableErrors],
    needs: [],
    trigger: 'all_success',
    retry: { maximumAttempts: 1, initialIntervalMs: 1000, backoffCoefficient: 2 },
    ...(secretRefs.length > 0 ? { secretRefs } : {}),
  };
}

/** Runs the batch's health checks `samples` times on each target of the batch, and says whether they passed. */
export async function sampleChecks(analysis: NonNullable<RolloutInput['analysis']>, batch: RolloutTargetRef[], batchNumber: number, context: RolloutActionContext): Promise<Omit<RolloutAnalysis, 'batch'>> {
  let samples = 0;
  let failures = 0;
  let firstFailure: string | undefined;
  for (let sample = 0; sample < analysis.samples; sample += 1) {
    if (sample > 0) await wf.sleep(parseDuration(analysis.interval));
    for (const target of batch) {
      for (const [index, check] of analysis.checks.entries()) {
        samples += 1;
        try {
          const task = actionTask(`analysis.${batchNumber}.${target.name}.${index}.${sample}`, check, context.actions, secretRefsUnder(context.secretRefs, ['analysis', 'checks', index, 'with']));
          const result = await executeAction({ task, inputs: substitute(check.with, target) as Record<string, unknown>, taskQueue: target.queue, runQueue: context.runQueue, runId: context.runId, runKey: context.runKey, dag: context.step });
          const problems = thresholdProblems(result.outputs, check.thresholds);
          if (problems.length > 0) throw new Error(`threshold: ${problems.join('; ')}`);
        } catch (error) {
          failures += 1;
          firstFailure ??= `${target.name} ${check.uses}: ${toTaskError(error).message.split('\n')[0] ?? ''}`;
        }
      }
    }
  }
  return { samples, failures, passed: failures <= analysis.maxFailures, ...(firstFailure ? { firstFailure } : {}) };
}

/** A blue-green hook (`switch` or `switch-back`) on the rollout's own queue. */
export async function runHook(name: 'switch' | 'switch-back', hook: RolloutHook, context: RolloutActionContext): Promise<void> {
  const task = actionTask(name, hook, context.actions, secretRefsUnder(context.secretRefs, [name === 'switch' ? 'switch' : 'switchBack', 'with']));
  await executeAction({ task, inputs: hook.with, taskQueue: context.runQueue, runQueue: context.runQueue, runId: context.runId, runKey: context.runKey, dag: context.step });
}
