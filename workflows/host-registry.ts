import * as wf from '@temporalio/workflow';
import { emptyRegistry, recordAnnouncement, recordLeaving, type HostRegistryState, type HostRegistryView } from './host-registry-state';

/**
 * Continue as new after this many history events even when the server does not suggest it yet: every
 * worker says it is there every two minutes, and a worker that takes the registry over replays its history.
 */
const EVENTS_PER_RUN = 600;

export interface HostRegistryInput {
  /** Carried across continue-as-new. */
  state?: HostRegistryState;
  /** History events per run before continuing as new (default 600; tests use fewer). */
  eventsPerRun?: number;
}

export const announceHostSignal = wf.defineSignal<[unknown]>('announce');
export const hostLeavingSignal = wf.defineSignal<[unknown]>('leaving');
export const hostsQuery = wf.defineQuery<HostRegistryView>('hosts');

/**
 * The known hosts (id `hosts/registry`): every worker announces itself by signal-with-start when it
 * starts polling, again now and then while it runs, and once more when it stops. Runs for ever,
 * continuing as new when its history grows; what it keeps is bounded (HOST_LIMITS).
 */
export async function hostRegistry(input: HostRegistryInput = {}): Promise<never> {
  const state: HostRegistryState = input.state ?? emptyRegistry();
  // Registry time, not the worker's clock: a host with a wrong clock still shows when it was heard from.
  const now = (): string => new Date().toISOString();
  wf.setHandler(announceHostSignal, (value) => void recordAnnouncement(state, value, now()));
  wf.setHandler(hostLeavingSignal, (value) => void recordLeaving(state, value, now()));
  wf.setHandler(hostsQuery, () => ({ queues: state.queues, rejected: state.rejected, evicted: state.evicted }));

  const eventsPerRun = Math.max(10, input.eventsPerRun ?? EVENTS_PER_RUN);
  await wf.condition(() => wf.workflowInfo().continueAsNewSuggested || wf.workflowInfo().historyLength > eventsPerRun);
  await wf.condition(wf.allHandlersFinished);
  return wf.continueAsNew<typeof hostRegistry>({ state, ...(input.eventsPerRun !== undefined ? { eventsPerRun: input.eventsPerRun } : {}) });
}
