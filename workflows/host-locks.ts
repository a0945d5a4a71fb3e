import * as wf from '@temporalio/workflow';
import type { HostLockActivities } from '../activities/platform/host-lock-requests';
import { hostBusySignal, hostGrantedSignal, releaseHostSignal } from './host-lock';
import { hostLockWorkflowId } from './workflow-ids';

/** What a run waiting for a host shows: the host, and who holds it when the lock has said. */
export interface HostWait {
  host: string;
  heldBy?: string;
  since?: string;
}

/**
 * The hosts one run holds (workflows/host-lock.ts hands them out). A run asks for the hosts it knows at
 * start in name order, so two runs never hold one host each while waiting for the other's; a host known
 * only when a task renders its runsOn is asked for then. Everything asked for is released when the run ends.
 */
export class HostLocks {
  private readonly granted = new Set<string>();
  private readonly requested = new Set<string>();
  private readonly busy = new Map<string, { heldBy: string; since: string }>();
  private waitingFor: string | undefined;
  private readonly requester = wf.workflowInfo().workflowId;
  private readonly root = wf.workflowInfo().root?.workflowId ?? wf.workflowInfo().workflowId;
  private readonly activities: HostLockActivities;

  constructor(
    private readonly controlQueue: string,
    private readonly onChange: () => void,
  ) {
    this.activities = wf.proxyActivities<HostLockActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 10, maximumInterval: '10s' }, taskQueue: controlQueue });
    wf.setHandler(hostGrantedSignal, ({ host }) => {
      this.granted.add(host);
      this.busy.delete(host);
      this.onChange();
    });
    wf.setHandler(hostBusySignal, ({ host, heldBy, since }) => {
      this.busy.set(host, { heldBy, since });
      this.onChange();
    });
  }

  /** The host this run waits for now, if any. */
  waiting(): HostWait | undefined {
    if (this.waitingFor === undefined) return undefined;
    const holder = this.busy.get(this.waitingFor);
    return { host: this.waitingFor, ...(holder ? { heldBy: holder.heldBy, since: holder.since } : {}) };
  }

  holds(host: string): boolean {
    return this.granted.has(host);
  }

  /** Waits until this run holds every one of `hosts` (asked for in name order). */
  async acquire(hosts: Iterable<string>): Promise<void> {
    for (const host of [...new Set(hosts)].sort()) {
      if (this.granted.has(host)) continue;
      if (!this.requested.has(host)) {
        this.requested.add(host);
        await this.activities.requestHostLock({
          lockWorkflowId: hostLockWorkflowId(this.controlQueue, host),
          host,
          controlQueue: this.controlQueue,
          request: { requester: this.requester, root: this.root, at: new Date().toISOString() },
        });
      }
      if (this.granted.has(host)) continue;
      this.waitingFor = host;
      this.onChange();
      try {
        await wf.condition(() => this.granted.has(host));
      } finally {
        this.waitingFor = undefined;
        this.onChange();
      }
    }
  }

  /** Gives back every host asked for, held or still awaited; a lock that already ended needs nothing. */
  async releaseAll(): Promise<void> {
    for (const host of [...this.requested].sort()) {
      try {
        await wf.getExternalWorkflowHandle(hostLockWorkflowId(this.controlQueue, host)).signal(releaseHostSignal, { requester: this.requester });
      } catch {
        // The lock workflow is gone (idle end or terminated): nothing is held there.
      }
    }
    this.requested.clear();
    this.granted.clear();
  }
}
