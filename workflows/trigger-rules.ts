import type { TriggerRule } from '../dag-repos/schema/dag-spec';
import { assertNever, type TaskState } from './run-status';

export type TriggerDecision = { run: true } | { run: false; state: 'skipped' | 'cancelled'; reason: string };

interface Upstream {
  id: string;
  state: TaskState;
}

const RUN: TriggerDecision = { run: true };

function skip(reason: string): TriggerDecision {
  return { run: false, state: 'skipped', reason };
}

function firstNot(upstreams: readonly Upstream[], state: TaskState): Upstream | undefined {
  return upstreams.find((upstream) => upstream.state !== state);
}

/** Whether a task whose upstreams have all finished should run. */
export function decideTrigger(rule: TriggerRule, upstreams: readonly Upstream[], runCancelled: boolean): TriggerDecision {
  if (rule === 'always') return RUN;
  if (runCancelled) return { run: false, state: 'cancelled', reason: 'run was cancelled before this task started' };
  const failed = upstreams.filter((upstream) => upstream.state === 'failed' || upstream.state === 'cancelled');
  switch (rule) {
    case 'all_success': {
      const blocker = firstNot(upstreams, 'succeeded');
      return blocker ? skip(`upstream "${blocker.id}" ${blocker.state}`) : RUN;
    }
    case 'all_done':
      return RUN;
    case 'none_failed':
      return failed[0] ? skip(`upstream "${failed[0].id}" ${failed[0].state}`) : RUN;
    case 'one_failed':
      return failed.length > 0 ? RUN : skip('no upstream task failed');
    case 'one_success':
      return upstreams.some((upstream) => upstream.state === 'succeeded') ? RUN : skip('no upstream task succeeded');
    default:
      return assertNever(rule);
  }
}
