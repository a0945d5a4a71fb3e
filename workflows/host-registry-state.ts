import { z } from 'zod';
import { AUDIT_TASK_QUEUE } from './audit-ids';

/**
 * The known hosts: what each worker said about itself when it started polling its queue, and when it
 * was last heard from. Shared by the client (which builds announcements) and the hostRegistry workflow
 * (which checks every signal again: anyone who can reach Temporal can send one). Pure: runs inside workflows.
 */

export const HOST_REGISTRY_WORKFLOW_TYPE = 'hostRegistry';
/** The platform's own queue, served by every process that runs workflows (see audit-ids.ts). */
export const HOST_REGISTRY_TASK_QUEUE = AUDIT_TASK_QUEUE;

/**
 * Bounds of the registry, so a hostile or broken worker cannot bloat it. `totalBytes` keeps everything
 * it holds inside the continue-as-new input Temporal accepts (2 MB): a real report is under 1 KB, so a
 * thousand hosts fit; reports of 4 KB would leave room for fewer, the least recently seen going first.
 */
export const HOST_LIMITS = { queues: 1000, instancesPerQueue: 3, text: 200, labels: 32, addresses: 16, announcementBytes: 4096, totalBytes: 1_500_000 } as const;

/** A host queue: what `runsOn` names. Letters, digits, '.', '_' and '-', starting with a letter or digit. */
export const HOST_QUEUE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const Text = z
  .string()
  .max(HOST_LIMITS.text)
  .refine((value) => !HIDDEN.test(value), 'must not contain control or invisible characters');
const Count = z.number().int().min(0).max(1_000_000_000);
const LabelPart = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export const HostAnnouncement = z.strictObject({
  /** The task queue the worker polls (the host's name in `runsOn`). */
  queue: z.string().regex(HOST_QUEUE, "letters, digits, '.', '_' or '-', at most 128"),
  /** The worker's identity as Temporal shows it among the queue's pollers. */
  identity: Text.min(1),
  /** Random per process: tells a restarted worker from the one before it. */
  instanceId: z.string().regex(/^[A-Za-z0-9-]{1,64}$/),
  /** Qubinode Navigator version (package.json). */
  version: Text,
  /** Whether this worker also runs workflows (the control plane's queue). */
  runsWorkflows: z.boolean(),
  /** When the worker process started, by its own clock (ISO 8601). */
  startedAt: z.iso.datetime(),
  /** The kernel's boot id: a new one means the host rebooted. */
  bootId: Text,
  hostname: Text,
  os: z.strictObject({ id: Text.optional(), versionId: Text.optional(), name: Text.optional() }),
  kernel: Text,
  arch: Text,
  cpuCount: Count,
  memoryMiB: Count,
  /** The host's own addresses (not loopback): where it sits on the network. */
  addresses: z.array(z.string().max(64).regex(/^[0-9a-zA-Z.:/%_-]+$/)).max(HOST_LIMITS.addresses),
  /** QUBINODE_HOST_LABELS of the worker. */
  labels: z.record(z.string().regex(LabelPart), Text).refine((labels) => Object.keys(labels).length <= HOST_LIMITS.labels, `at most ${HOST_LIMITS.labels} labels`),
});
export type HostAnnouncement = z.infer<typeof HostAnnouncement>;

export const HostLeaving = z.strictObject({ queue: z.string().regex(HOST_QUEUE), instanceId: z.string().regex(/^[A-Za-z0-9-]{1,64}$/) });
export type HostLeaving = z.infer<typeof HostLeaving>;

/** One worker process on a queue, as the registry keeps it. Times are the registry's own (workflow time). */
export interface HostInstance extends HostAnnouncement {
  firstSeen: string;
  lastSeen: string;
  /** Set when the worker said it was stopping. */
  stoppedAt?: string;
}

export interface HostRegistryState {
  /** Per queue, its worker processes, most recently seen first. */
  queues: Record<string, HostInstance[]>;
  /** Signals that were not valid announcements. */
  rejected: number;
  /** Queues or instances forgotten to keep within HOST_LIMITS (least recently seen first). */
  evicted: number;
}

export function emptyRegistry(): HostRegistryState {
  return { queues: {}, rejected: 0, evicted: 0 };
}

function byteSize(value: unknown): number | undefined {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? undefined : text.length;
  } catch {
    // Cycles or nesting deep enough to overflow the stack: not an announcement.
    return undefined;
  }
}

function parsed<T>(schema: z.ZodType<T>, value: unknown): T | undefined {
  const size = byteSize(value);
  if (size === undefined || size > HOST_LIMITS.announcementBytes) return undefined;
  const result = schema.safeParse(value);
  return result.success ? result.data : undefined;
}

/** Whether a value is a valid announcement (the client checks before sending). */
export function checkedAnnouncement(value: unknown): HostAnnouncement | undefined {
  return parsed(HostAnnouncement, value);
}

// Sizes of the instances held, measured once each (the objects are new after continue-as-new).
const sizes = new WeakMap<HostInstance, number>();
function sizeOf(instance: HostInstance): number {
  let size = sizes.get(instance);
  if (size === undefined) {
    size = JSON.stringify(instance).length;
    sizes.set(instance, size);
  }
  return size;
}

/** Forgets the least recently seen instances, never `keep`, until the registry fits its byte budget. */
function fitBudget(state: HostRegistryState, keep: HostInstance): void {
  const all = Object.values(state.queues).flat();
  let total = all.reduce((sum, instance) => sum + sizeOf(instance), 0);
  if (total <= HOST_LIMITS.totalBytes) return;
  const oldestFirst = all.filter((instance) => instance !== keep).sort((a, b) => (a.lastSeen < b.lastSeen ? -1 : a.lastSeen > b.lastSeen ? 1 : 0));
  for (const instance of oldestFirst) {
    if (total <= HOST_LIMITS.totalBytes) break;
    const remaining = (state.queues[instance.queue] ?? []).filter((candidate) => candidate !== instance);
    if (remaining.length > 0) state.queues[instance.queue] = remaining;
    else delete state.queues[instance.queue];
    total -= sizeOf(instance);
    state.evicted += 1;
  }
}

function lastSeenOf(instances: readonly HostInstance[]): string {
  return instances.reduce((latest, instance) => (instance.lastSeen > latest ? instance.lastSeen : latest), '');
}

/** Records an announcement at registry time `now`; refuses anything that is not one. */
export function recordAnnouncement(state: HostRegistryState, value: unknown, now: string): 'recorded' | 'rejected' {
  const announcement = checkedAnnouncement(value);
  if (!announcement) {
    state.rejected += 1;
    return 'rejected';
  }
  const existing = Object.hasOwn(state.queues, announcement.queue) ? (state.queues[announcement.queue] ?? []) : undefined;
  if (!existing && Object.keys(state.queues).length >= HOST_LIMITS.queues) {
    const oldest = Object.entries(state.queues).sort(([, a], [, b]) => (lastSeenOf(a) < lastSeenOf(b) ? -1 : 1))[0];
    if (oldest) {
      delete state.queues[oldest[0]];
      state.evicted += 1;
    }
  }
  const previous = existing?.find((instance) => instance.instanceId === announcement.instanceId);
  const others = (existing ?? []).filter((instance) => instance.instanceId !== announcement.instanceId);
  const recorded: HostInstance = { ...announcement, firstSeen: previous?.firstSeen ?? now, lastSeen: now };
  const instances = [recorded, ...others];
  if (instances.length > HOST_LIMITS.instancesPerQueue) state.evicted += instances.length - HOST_LIMITS.instancesPerQueue;
  state.queues[announcement.queue] = instances.slice(0, HOST_LIMITS.instancesPerQueue);
  fitBudget(state, recorded);
  return 'recorded';
}

/** Marks a worker process as stopped (it said so on its way out); unknown ones are ignored. */
export function recordLeaving(state: HostRegistryState, value: unknown, now: string): 'recorded' | 'rejected' | 'unknown' {
  const leaving = parsed(HostLeaving, value);
  if (!leaving) {
    state.rejected += 1;
    return 'rejected';
  }
  const instance = Object.hasOwn(state.queues, leaving.queue) ? state.queues[leaving.queue]?.find((candidate) => candidate.instanceId === leaving.instanceId) : undefined;
  if (!instance) return 'unknown';
  instance.stoppedAt = now;
  instance.lastSeen = now;
  return 'recorded';
}

/** What the registry's query answers. */
export interface HostRegistryView {
  queues: Record<string, HostInstance[]>;
  rejected: number;
  evicted: number;
}

/** What the `hostStatus` activity answers about one host queue. */
export interface HostStatus {
  /** A worker has announced itself on this queue. */
  known: boolean;
  /** One of its workers polled within the last 90 s or announced itself within the last minute. */
  online: boolean;
  /** When it was last heard from (ISO 8601), if ever. */
  lastSeen?: string;
}

/** The platform activity workflows call to ask about a host (registered on every worker). */
export interface HostStatusActivities {
  hostStatus(input: { queue: string }): Promise<HostStatus>;
}
