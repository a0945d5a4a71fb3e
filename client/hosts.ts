import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import {
  checkedAnnouncement,
  HOST_QUEUE,
  HOST_REGISTRY_TASK_QUEUE,
  HOST_REGISTRY_WORKFLOW_TYPE,
  type HostAnnouncement,
  type HostInstance,
  type HostLeaving,
  type HostRegistryView,
  type HostStatus,
} from '../workflows/host-registry-state';
import { HOST_REGISTRY_WORKFLOW_ID } from '../workflows/workflow-ids';
import type { HostRegistryInput } from '../workflows/host-registry';

/**
 * The known hosts (docs/hosts.md): what workers announced about themselves (the `hosts/registry`
 * workflow) joined with who polls each queue now (Temporal's task-queue description).
 */

export type { HostAnnouncement, HostInstance };

/** A host is online when one of its workers announced itself this recently... */
export const ONLINE_WINDOW_MS = 60_000;
/** ...or polled this recently: an idle worker's long poll renews its last access about once a minute. */
export const POLLER_WINDOW_MS = 90_000;

/** A worker polling a host's queue, as Temporal describes it. */
export interface HostPoller {
  identity: string;
  /** `workflow` or `activity` pollers. */
  kind: 'workflow' | 'activity';
  lastAccessTime?: string;
}

export interface HostView {
  queue: string;
  /** `online`, or `offline` with `offlineSince`. */
  state: 'online' | 'offline';
  /** When it was last heard from: the latest of its workers' announcements and polls. */
  lastSeen?: string;
  offlineSince?: string;
  pollers: HostPoller[];
  /** The most recently seen worker's report (version, OS facts, labels, boot id). */
  worker?: HostInstance;
  /** Every worker process the registry remembers on this queue, most recently seen first. */
  instances: HostInstance[];
}

/** A run names a host no worker ever announced. */
export class UnknownHostError extends Error {
  override readonly name = 'UnknownHostError';
  constructor(
    readonly taskId: string,
    readonly queue: string,
    readonly known: readonly string[],
  ) {
    // A name no worker could announce (blanks, slashes, control characters) is quoted, never printed raw.
    const shown = HOST_QUEUE.test(queue) ? queue : JSON.stringify(queue.slice(0, 130));
    const list = known.length > 20 ? `${known.slice(0, 20).join(', ')} and ${known.length - 20} more` : known.join(', ') || 'none';
    super(`task ${taskId}: runsOn ${shown} names no known host (known: ${list})`);
  }
}

/** Reading the registry needs a worker on its queue; none answered. */
export class HostRegistryUnavailableError extends Error {
  override readonly name = 'HostRegistryUnavailableError';
}

async function signalRegistry(client: Client, signal: 'announce' | 'leaving', payload: unknown): Promise<void> {
  const input: HostRegistryInput = {};
  await client.workflow.signalWithStart(HOST_REGISTRY_WORKFLOW_TYPE, {
    workflowId: HOST_REGISTRY_WORKFLOW_ID,
    taskQueue: HOST_REGISTRY_TASK_QUEUE,
    args: [input],
    signal,
    signalArgs: [payload],
    staticSummary: 'known hosts',
  });
}

/** Records a worker's report in the registry (started if absent). Refuses an ill-shaped one before sending. */
export async function announceHost(client: Client, announcement: HostAnnouncement): Promise<void> {
  const checked = checkedAnnouncement(announcement);
  if (!checked) throw new TypeError(`not a valid host announcement for queue ${JSON.stringify(String(announcement.queue).slice(0, 130))}`);
  await signalRegistry(client, 'announce', checked);
}

/** Tells the registry a worker is stopping, so its host shows offline at once rather than a minute later. */
export async function announceLeaving(client: Client, leaving: HostLeaving): Promise<void> {
  await signalRegistry(client, 'leaving', leaving);
}

const QUERY_ATTEMPTS = 5;

/** What the registry holds; empty when no worker has announced itself yet. */
export async function readHostRegistry(client: Client): Promise<HostRegistryView> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await client.workflow.getHandle(HOST_REGISTRY_WORKFLOW_ID).query<HostRegistryView>('hosts');
    } catch (error) {
      if ((error as { name?: string }).name === 'WorkflowNotFoundError') return { queues: {}, rejected: 0, evicted: 0 };
      const message = `${(error as Error).message} ${String((error as { cause?: Error }).cause?.message ?? '')}`;
      if (/no poller seen/i.test(message)) throw new HostRegistryUnavailableError(`cannot read the known hosts: no worker serves queue "${HOST_REGISTRY_TASK_QUEUE}" (start one with \`qubinode up\` or \`qubinode worker\`)`);
      // A registry continuing as new, or whose last task is retried on another worker, answers a moment later.
      const transient = /Workflow Task in failed state|DEADLINE_EXCEEDED|UNAVAILABLE|continued as new|not found/i.test(message);
      if (!transient || attempt >= QUERY_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** (attempt - 1)));
    }
  }
}

/** Who polls a queue now (workflow and activity pollers), by Temporal's task-queue description. */
export async function queuePollers(client: Client, queue: string): Promise<HostPoller[]> {
  const { TASK_QUEUE_TYPE_ACTIVITY, TASK_QUEUE_TYPE_WORKFLOW } = temporal.api.enums.v1.TaskQueueType;
  const kinds = [
    ['workflow', TASK_QUEUE_TYPE_WORKFLOW],
    ['activity', TASK_QUEUE_TYPE_ACTIVITY],
  ] as const;
  const answers = await Promise.all(
    kinds.map(async ([kind, type]) => {
      const answer = await client.workflowService.describeTaskQueue({ namespace: client.options.namespace, taskQueue: { name: queue }, taskQueueType: type });
      return (answer.pollers ?? []).map((poller): HostPoller => {
        const seconds = poller.lastAccessTime?.seconds;
        const millis = seconds === undefined || seconds === null ? undefined : Number(seconds) * 1000 + Math.floor((poller.lastAccessTime?.nanos ?? 0) / 1e6);
        return { identity: poller.identity ?? '', kind, ...(millis ? { lastAccessTime: new Date(millis).toISOString() } : {}) };
      });
    }),
  );
  return answers.flat();
}

/** Joins a queue's registry entries and its pollers into its state at `now`. */
export function hostView(queue: string, instances: readonly HostInstance[], pollers: readonly HostPoller[], now: number): HostView {
  const stopped = new Set(instances.filter((instance) => instance.stoppedAt).map((instance) => instance.identity));
  const within = (at: string | undefined, windowMs: number): boolean => at !== undefined && now - Date.parse(at) < windowMs;
  // A poller of a worker that said it stopped lingers in Temporal's description for minutes: it does not count.
  const online =
    instances.some((instance) => !instance.stoppedAt && within(instance.lastSeen, ONLINE_WINDOW_MS)) ||
    pollers.some((poller) => !stopped.has(poller.identity) && within(poller.lastAccessTime, POLLER_WINDOW_MS));
  const times = [...instances.map((instance) => instance.lastSeen), ...pollers.filter((poller) => !stopped.has(poller.identity)).map((poller) => poller.lastAccessTime ?? '')].filter(Boolean);
  const lastSeen = times.sort().at(-1);
  const worker = instances[0];
  return {
    queue,
    state: online ? 'online' : 'offline',
    ...(lastSeen ? { lastSeen } : {}),
    ...(!online && lastSeen ? { offlineSince: lastSeen } : {}),
    pollers: [...pollers],
    ...(worker ? { worker } : {}),
    instances: [...instances],
  };
}

/** Every host queue the registry knows, with its pollers now and its state, sorted by name. */
export async function listHosts(client: Client): Promise<HostView[]> {
  const registry = await readHostRegistry(client);
  const now = Date.now();
  const queues = Object.keys(registry.queues).sort();
  const views: HostView[] = [];
  // A few queues at a time: a large fleet must not open hundreds of calls at once.
  for (let index = 0; index < queues.length; index += 8) {
    const batch = queues.slice(index, index + 8);
    views.push(...(await Promise.all(batch.map(async (queue) => hostView(queue, registry.queues[queue] ?? [], await queuePollers(client, queue), now)))));
  }
  return views;
}

/** Whether a host queue is known, online now, and when it was last heard from. */
export async function hostLastSeen(client: Client, queue: string): Promise<HostStatus> {
  if (!HOST_QUEUE.test(queue)) return { known: false, online: false };
  const registry = await readHostRegistry(client);
  const instances = Object.hasOwn(registry.queues, queue) ? (registry.queues[queue] ?? []) : [];
  const view = hostView(queue, instances, await queuePollers(client, queue), Date.now());
  return { known: instances.length > 0, online: view.state === 'online', ...(view.lastSeen ? { lastSeen: view.lastSeen } : {}) };
}

/** Literal `runsOn` values of a DAG and its sub-DAGs, with the task naming each; templated ones are checked when they run. */
export function literalRunsOn(dag: CompiledDag): { taskId: string; queue: string }[] {
  const found: { taskId: string; queue: string }[] = [];
  const seen = new Set<CompiledDag>();
  const visit = (current: CompiledDag, prefix: string): void => {
    if (seen.has(current)) return;
    seen.add(current);
    for (const task of current.tasks) {
      if (task.runsOn !== undefined && !task.runsOn.includes('${{')) found.push({ taskId: `${prefix}${task.id}`, queue: task.runsOn });
      const child = task.childDag ? (current.children[task.childDag] ?? dag.children[task.childDag]) : undefined;
      if (child) visit(child, `${prefix}${task.id}.`);
    }
  };
  visit(dag, '');
  return found;
}

/**
 * Refuses a run whose literal `runsOn` names a queue no worker ever announced. The run's own queue
 * is always known. A DAG without literal `runsOn` is not checked at all (no call to Temporal).
 */
export async function refuseUnknownHosts(client: Client, dag: CompiledDag, runQueue: string): Promise<void> {
  const targets = literalRunsOn(dag).filter((target) => target.queue !== runQueue);
  if (targets.length === 0) return;
  const registry = await readHostRegistry(client);
  const known = new Set([...Object.keys(registry.queues), runQueue]);
  const unknown = targets.find((target) => !known.has(target.queue));
  if (unknown) throw new UnknownHostError(unknown.taskId, unknown.queue, [...known].sort());
}
