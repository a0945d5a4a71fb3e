import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import * as path from 'node:path';
import { PROJECT_ROOT, type TemporalSettings } from '../config/config';
import type { Logger } from '../config/logger';
import { systemInfo } from '../activities/diag/diag-system';
import { connectClient, type TemporalClient } from '../config/temporal-connection';
import type { WorkerTemporalAccess } from './temporal-access';
import { HOST_LIMITS, type HostAnnouncement } from '../workflows/host-registry-state';

/**
 * How often a running worker says it is still there. Whether it is online comes from its polls (Temporal
 * renews them about once a minute); this keeps "last seen" after Temporal forgets a gone poller (minutes).
 */
export const ANNOUNCE_INTERVAL_MS = 120_000;
const RETRY_MIN_MS = 2_000;
const RETRY_MAX_MS = 60_000;
const LEAVING_WAIT_MS = 3_000;

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

const bounded = (value: unknown): string => String(value ?? '').replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, ' ').slice(0, HOST_LIMITS.text);

function packageVersion(): string {
  const text = readText(path.join(PROJECT_ROOT, 'package.json'));
  try {
    return bounded((JSON.parse(text ?? '{}') as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
}

/** The host's addresses with their prefix length, loopback left out (the lab's hosts differ only here). */
function hostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((entries) => entries ?? [])
    .filter((entry) => !entry.internal)
    // IPv4 first: the address an operator looks for in a table.
    .sort((a, b) => Number(a.family !== 'IPv4') - Number(b.family !== 'IPv4'))
    .map((entry) => entry.cidr ?? entry.address)
    .slice(0, HOST_LIMITS.addresses);
}

/** What this worker process says about itself and its host. */
export function hostAnnouncement(options: { queue: string; identity: string; runsWorkflows: boolean; labels: Record<string, string>; startedAt?: Date; instanceId?: string }): HostAnnouncement {
  const info = systemInfo() as { hostname?: unknown; os?: { id?: unknown; version?: unknown; name?: unknown } | null; kernel?: unknown; arch?: unknown; cpuCount?: unknown; memoryTotalMiB?: unknown };
  const count = (value: unknown): number => (typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : 0);
  return {
    queue: options.queue,
    identity: bounded(options.identity),
    instanceId: options.instanceId ?? randomUUID(),
    version: packageVersion(),
    runsWorkflows: options.runsWorkflows,
    startedAt: (options.startedAt ?? new Date()).toISOString(),
    bootId: bounded(readText('/proc/sys/kernel/random/boot_id') ?? ''),
    hostname: bounded(info.hostname),
    os: info.os ? { id: bounded(info.os.id), versionId: bounded(info.os.version), name: bounded(info.os.name) } : {},
    kernel: bounded(info.kernel),
    arch: bounded(info.arch),
    cpuCount: count(info.cpuCount),
    memoryMiB: count(info.memoryTotalMiB),
    addresses: hostAddresses(),
    labels: options.labels,
  };
}

export interface HostAnnouncer {
  /** Settles after the first attempt to announce, whether it reached Temporal or not. */
  readonly firstAttempt: Promise<boolean>;
  /** Stops announcing and tells the registry this worker is leaving (bounded wait). */
  stop(): Promise<void>;
}

/**
 * Announces a worker to the known hosts now, again every `intervalMs` while it runs, and says when it
 * stops. Temporal out of reach is logged and retried with a growing pause; it never stops the worker.
 */
export function startHostAnnouncer(options: {
  settings: TemporalSettings;
  access: Pick<WorkerTemporalAccess, 'announceHost' | 'announceLeaving'>;
  announcement: HostAnnouncement;
  logger: Logger;
  intervalMs?: number;
  /** Whether the worker still polls; once false, the announcer says the worker is leaving and stops. */
  alive?: () => boolean;
  connect?: (settings: TemporalSettings) => Promise<TemporalClient>;
}): HostAnnouncer {
  const { announcement, logger } = options;
  const interval = options.intervalMs ?? ANNOUNCE_INTERVAL_MS;
  const connect = options.connect ?? connectClient;
  let temporal: Promise<TemporalClient> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let announced = false;
  let failures = 0;
  let settleFirst: (reached: boolean) => void = () => undefined;
  const firstAttempt = new Promise<boolean>((resolve) => (settleFirst = resolve));

  const client = async (): Promise<TemporalClient> => {
    temporal ??= connect(options.settings);
    try {
      return await temporal;
    } catch (error) {
      temporal = undefined;
      throw error;
    }
  };
  const attempt = async (): Promise<void> => {
    let pause = interval;
    try {
      await options.access.announceHost((await client()).client, announcement);
      if (failures > 0) logger.info({ queue: announcement.queue }, 'announced to the known hosts after all');
      announced = true;
      failures = 0;
      settleFirst(true);
    } catch (error) {
      failures += 1;
      // Said once and then every tenth time, not every few seconds for as long as Temporal is away.
      if (failures === 1 || failures % 10 === 0) logger.warn({ err: error, queue: announcement.queue, failures }, 'could not announce this worker to the known hosts; retrying');
      pause = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(failures - 1, 10), interval);
      settleFirst(false);
    }
    if (!stopped) {
      timer = setTimeout(() => void attempt(), pause);
      timer.unref();
    }
  };
  void attempt();

  let watch: NodeJS.Timeout | undefined;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (timer) clearTimeout(timer);
    if (watch) clearInterval(watch);
    if (!temporal) return;
    try {
      const connected = await temporal;
      if (announced) {
        let wait: NodeJS.Timeout | undefined;
        const limit = new Promise<void>((resolve) => (wait = setTimeout(resolve, LEAVING_WAIT_MS)));
        await Promise.race([options.access.announceLeaving(connected.client, { queue: announcement.queue, instanceId: announcement.instanceId }).catch(() => undefined), limit]);
        clearTimeout(wait);
      }
      await connected.close();
    } catch {
      // Never connected: nothing to say, nothing to close.
    }
  };
  // A worker shut down by a signal or by its owner stops being announced even when nobody calls stop().
  const alive = options.alive;
  if (alive) {
    watch = setInterval(() => {
      if (!alive()) void stop();
    }, 1_000);
    watch.unref();
  }
  return { firstAttempt, stop };
}
