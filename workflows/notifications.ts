import * as wf from '@temporalio/workflow';
import type { NotifyChannel, NotifyEvent } from '../dag-repos/schema/rollback-notify';
import type { NotifyRequest } from './rollback-status';

const { notify } = wf.proxyActivities<{ notify(request: NotifyRequest): Promise<{ sent: number; failed: string[] }> }>({
  startToCloseTimeout: '30s',
  retry: { maximumAttempts: 2, initialInterval: '1s' },
});

/**
 * Sends one run event to the DAG's `notify:` channels that want it. Never throws: a notification
 * that cannot be sent must not change how the run ends. Runs outside cancellation so a cancelled
 * run can still report.
 */
export async function sendNotification(channels: readonly NotifyChannel[] | undefined, event: NotifyEvent, facts: Omit<NotifyRequest, 'channels' | 'event'>): Promise<void> {
  const wanted = (channels ?? []).filter((channel) => channel.on.includes(event));
  if (wanted.length === 0) return;
  try {
    await wf.CancellationScope.nonCancellable(() => notify({ channels: wanted, event, ...facts }));
  } catch (error) {
    wf.log.warn('notification not sent', { event, error: (error as Error).message });
  }
}
