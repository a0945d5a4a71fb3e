import type { ActionInvocation, ActionResult } from '../../dag-repos/actions/action-types';

/** `noop` activity: echoes its inputs as outputs. Used by joins and benchmarks, so it does nothing else. */
export function createNoopActivities() {
  return {
    noop(inv: ActionInvocation): Promise<ActionResult> {
      return Promise.resolve({ outputs: inv.with ?? {}, summary: 'ok' });
    },
  };
}
