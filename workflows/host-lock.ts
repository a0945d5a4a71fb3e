import * as wf from '@temporalio/workflow';
import { z } from 'zod';
import type { HostLockActivities } from '../activities/platform/host-lock-requests';

/**
 * One job per host: a long-lived workflow per host queue (id from hostLockWorkflowId) that hands the host to
 * one run at a time, first come first served. Runs of one family (a run, its sub-DAG runs and rollout steps)
 * share it, so a child never waits for its own parent. State lives in Temporal, so the lock survives worker
 * and server restarts; a holder that ends without releasing (terminated, timed out) is noticed and dropped.
 */

const RequestSchema = z.object({
  /** Workflow id of the run asking (it gets the grant signal). */
  requester: z.string().min(1).max(400),
  /** Workflow id of the run's family root: holders of one root share the host. */
  root: z.string().min(1).max(400),
  at: z.string().max(40),
});
export type HostLockRequest = z.infer<typeof RequestSchema>;

export interface HostLockHolder extends HostLockRequest {
  since: string;
}

export interface HostLockState {
  host: string;
  holders: HostLockHolder[];
  waiting: HostLockRequest[];
}

export interface HostLockInput {
  host: string;
  /** Queue of this workflow and of its liveness checks. */
  controlQueue: string;
  holders?: HostLockHolder[];
  waiting?: HostLockRequest[];
}

/** Sent by the run-side (workflows/host-locks.ts) to the lock. */
export const acquireHostSignal = wf.defineSignal<[HostLockRequest]>('acquireHost');
export const releaseHostSignal = wf.defineSignal<[{ requester: string }]>('releaseHost');
export const hostLockStateQuery = wf.defineQuery<HostLockState>('hostLockState');
/** Sent by the lock to a requester. */
export const hostGrantedSignal = wf.defineSignal<[{ host: string }]>('hostGranted');
export const hostBusySignal = wf.defineSignal<[{ host: string; heldBy: string; since: string }]>('hostBusy');

/** Most requests one host keeps waiting; beyond it a request is refused at once (it would wait for hours anyway). */
const MAX_WAITING = 500;
/** How often holders are checked for being alive while someone waits for them. */
const LIVENESS_EVERY_MS = 20_000;
/** A lock nobody holds or wants ends after this long; the next request starts it again. */
const IDLE_END_MS = 60_000;

export async function hostLock(input: HostLockInput): Promise<void> {
  const holders = new Map<string, HostLockHolder>((input.holders ?? []).map((holder) => [holder.requester, holder]));
  let waiting: HostLockRequest[] = [...(input.waiting ?? [])];
  /** Requesters already told who holds the host, with the holder they were told about. */
  const toldBusy = new Map<string, string>();
  /** Holders that asked again (their request activity retried): told again that they hold it. */
  const regrant = new Set<string>();
  let changed = true;
  const { openWorkflows } = wf.proxyActivities<HostLockActivities>({ taskQueue: input.controlQueue, startToCloseTimeout: '30s', retry: { maximumAttempts: 3 } });

  wf.setHandler(hostLockStateQuery, () => ({ host: input.host, holders: [...holders.values()], waiting }));
  wf.setHandler(acquireHostSignal, (raw) => {
    const parsed = RequestSchema.safeParse(raw);
    if (!parsed.success) return;
    const request = parsed.data;
    if (holders.has(request.requester) || waiting.some((entry) => entry.requester === request.requester)) {
      // Asked again (e.g. its request activity retried): answered again below.
      if (holders.has(request.requester)) regrant.add(request.requester);
      changed = true;
      return;
    }
    if (waiting.length >= MAX_WAITING) return;
    waiting.push(request);
    changed = true;
  });
  wf.setHandler(releaseHostSignal, ({ requester }) => {
    holders.delete(requester);
    waiting = waiting.filter((entry) => entry.requester !== requester);
    toldBusy.delete(requester);
    changed = true;
  });

  const tell = async (requester: string, send: () => Promise<void>): Promise<boolean> => {
    try {
      await send();
      return true;
    } catch {
      // The requester is gone (ended or never existed): it neither holds nor waits any more.
      holders.delete(requester);
      waiting = waiting.filter((entry) => entry.requester !== requester);
      return false;
    }
  };

  let lastLivenessCheck = Date.now();
  for (;;) {
    // Grant: anyone of the holders' family at once; otherwise the first in line when the host is free.
    for (const request of [...waiting]) {
      const familyRoot = [...holders.values()][0]?.root;
      if (familyRoot !== undefined && request.root !== familyRoot) continue;
      waiting = waiting.filter((entry) => entry !== request);
      holders.set(request.requester, { ...request, since: new Date().toISOString() });
      toldBusy.delete(request.requester);
      await tell(request.requester, () => wf.getExternalWorkflowHandle(request.requester).signal(hostGrantedSignal, { host: input.host }));
    }
    for (const requester of [...regrant]) {
      regrant.delete(requester);
      if (holders.has(requester)) await tell(requester, () => wf.getExternalWorkflowHandle(requester).signal(hostGrantedSignal, { host: input.host }));
    }
    const first = [...holders.values()][0];
    if (first) {
      for (const request of waiting) {
        if (toldBusy.get(request.requester) === first.requester) continue;
        toldBusy.set(request.requester, first.requester);
        await tell(request.requester, () => wf.getExternalWorkflowHandle(request.requester).signal(hostBusySignal, { host: input.host, heldBy: first.requester, since: first.since }));
      }
    }
    if (holders.size > 0 && waiting.length > 0 && Date.now() - lastLivenessCheck >= LIVENESS_EVERY_MS) {
      lastLivenessCheck = Date.now();
      const open = new Set(await openWorkflows({ workflowIds: [...holders.keys()] }));
      for (const requester of [...holders.keys()]) if (!open.has(requester)) holders.delete(requester);
      changed = true;
      continue;
    }
    if (holders.size === 0 && waiting.length === 0) {
      changed = false;
      if (!(await wf.condition(() => changed, IDLE_END_MS))) return;
      continue;
    }
    if (wf.workflowInfo().continueAsNewSuggested || wf.workflowInfo().historyLength > 4000) {
      await wf.continueAsNew<typeof hostLock>({ host: input.host, controlQueue: input.controlQueue, holders: [...holders.values()], waiting });
    }
    changed = false;
    await wf.condition(() => changed, waiting.length > 0 ? LIVENESS_EVERY_MS : undefined);
  }
}
