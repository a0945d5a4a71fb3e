import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access, open, readFile } from 'node:fs/promises';
import os from 'node:os';
import * as path from 'node:path';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { taskLogPath } from '../../config/log-layout';
import { findTool, toolPath } from '../../config/tool-paths';
import { HOST_REBOOT_FAILURES } from '../../dag-repos/actions/host-actions';
import { createHostDrainActivities, type DrainTask } from './host-drain';

/**
 * The steps of `host.reboot` that touch the host (drain, facts, the reboot itself) and the one
 * that watches for it from the control plane (a new worker polling the host's queue). The workflow
 * (workflows/host-reboot.ts) strings them together; its verify command runs as the host's `shell` action.
 */

/** This process's worker identity: a new one each start, so a worker that came back is told from the one that left. */
const INSTANCE = randomUUID().slice(0, 8);

/** The identity this process's Temporal workers poll with (pid@host/instance); activities report it as the worker instance. */
export function workerIdentity(): string {
  return `${process.pid}@${os.hostname()}/${INSTANCE}`;
}

/** Seconds between the trigger's answer and the reboot: enough for the answer to reach Temporal. */
export const REBOOT_DELAY_SECONDS = 5;

export interface RebootSettings {
  /** Program and arguments (QUBINODE_REBOOT_COMMAND). */
  command: string[];
  /** What a reboot changes (QUBINODE_REBOOT_CHANGES). */
  changes: 'boot' | 'worker';
}

export interface HostRebootDeps {
  logRoot: string;
  reboot: RebootSettings;
  /** The Temporal client of the control plane's worker, for the wait on the host's queue. */
  client?: () => Promise<Client>;
  /** Interval of the host queue polls while waiting. */
  pollMs?: number;
  /** Where the boot id is read (tests). */
  bootIdFile?: string;
}

export interface HostFacts {
  /** The kernel's boot id; undefined where the kernel does not tell (not Linux). */
  bootId?: string;
  workerIdentity: string;
  /** uname -r */
  kernel: string;
  hostname: string;
  rebootChanges: RebootSettings['changes'];
}

export interface TriggerRequest extends DrainTask {
  /** The worker instance the reboot was meant for: another one answering means the host rebooted already. */
  expectIdentity: string;
}

export interface TriggerResult {
  triggered: boolean;
  command: string[];
  delaySeconds: number;
}

export interface PollersRequest {
  host: string;
}

export interface HostPollers {
  identities: string[];
  /** When the host's queue was last polled, ISO time; undefined when nobody polled it lately. */
  lastSeen?: string;
}

export interface WaitRequest {
  host: string;
  /** Worker identities that polled before the reboot: none of them counts as the host coming back. */
  previous: string[];
  /** When the wait gives up (epoch ms): fixed by the workflow, so a retried wait never waits longer. */
  deadlineMs: number;
  /** The duration as the DAG gave it, for the message. */
  waitFor: string;
  /** When the reboot was asked for (epoch ms), for downForMs. */
  triggeredAtMs: number;
  /** The last poll of the host seen before the reboot, for the message. */
  lastSeen?: string;
}

export interface WaitResult {
  identity: string;
  backAt: string;
  downForMs: number;
}

const { TASK_QUEUE_TYPE_ACTIVITY } = temporal.api.enums.v1.TaskQueueType;

function millis(timestamp: temporal.api.taskqueue.v1.IPollerInfo['lastAccessTime']): number | undefined {
  if (!timestamp) return undefined;
  return Number(timestamp.seconds ?? 0) * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6);
}

async function describe(client: Client, host: string): Promise<{ identity: string; lastAccessMs?: number }[]> {
  const answer = await client.workflowService.describeTaskQueue({ namespace: client.options.namespace, taskQueue: { name: host }, taskQueueType: TASK_QUEUE_TYPE_ACTIVITY });
  return (answer.pollers ?? []).map((poller) => {
    const lastAccessMs = millis(poller.lastAccessTime);
    return { identity: poller.identity ?? '', ...(lastAccessMs === undefined ? {} : { lastAccessMs }) };
  });
}

/** The program of the reboot command as it will run: an absolute path, or found on PATH. */
async function resolveProgram(program: string): Promise<string | undefined> {
  if (path.isAbsolute(program)) {
    try {
      await access(program, constants.X_OK);
      return program;
    } catch {
      return undefined;
    }
  }
  return program.includes('/') ? undefined : findTool(program, { ...process.env, PATH: toolPath() });
}

export function createHostRebootActivities(deps: HostRebootDeps) {
  const pollMs = deps.pollMs ?? 1_000;
  const bootIdFile = deps.bootIdFile ?? '/proc/sys/kernel/random/boot_id';
  // Reboots this worker scheduled, by task: a retried trigger of the same task does not schedule a second one.
  const scheduled = new Set<string>();

  const needClient = async (): Promise<Client> => {
    if (!deps.client) throw ApplicationFailure.nonRetryable('this worker cannot reach Temporal for the host queue (no client)', 'HostWaitUnavailable');
    return deps.client();
  };

  return {
    ...createHostDrainActivities({ logRoot: deps.logRoot }),

    /** Boot id, worker instance and kernel of the host this runs on. */
    async hostRebootFacts(): Promise<HostFacts> {
      const bootId = await readFile(bootIdFile, 'utf8').then((text) => text.trim(), () => undefined);
      return { ...(bootId ? { bootId } : {}), workerIdentity: workerIdentity(), kernel: os.release(), hostname: os.hostname(), rebootChanges: deps.reboot.changes };
    },

    /**
     * Schedules the reboot REBOOT_DELAY_SECONDS from now, detached from the worker, and answers at once: the
     * reboot takes this worker with it, and the answer must reach Temporal first. Asking twice reboots once.
     */
    async hostRebootTrigger(request: TriggerRequest): Promise<TriggerResult> {
      const [program, ...args] = deps.reboot.command;
      const answer = { command: deps.reboot.command, delaySeconds: REBOOT_DELAY_SECONDS };
      const key = JSON.stringify([request.runId, request.taskId, request.itemIndex ?? null]);
      // Another instance answering means the reboot asked for earlier happened already.
      if (request.expectIdentity !== workerIdentity()) return { ...answer, triggered: false };
      if (scheduled.has(key)) return { ...answer, triggered: true };
      const file = program === undefined ? undefined : await resolveProgram(program);
      if (file === undefined) throw ApplicationFailure.nonRetryable(`the reboot command ${JSON.stringify(program ?? '')} is not an executable program on this host (QUBINODE_REBOOT_COMMAND)`, HOST_REBOOT_FAILURES.rebootCommandFailed);
      const logPath = taskLogPath(deps.logRoot, request.runId, request.taskId, request.itemIndex);
      const log = await open(logPath, 'a');
      try {
        await log.write(`=== ${new Date().toISOString()} reboot in ${REBOOT_DELAY_SECONDS}s: ${JSON.stringify(deps.reboot.command)} ===\n`);
        // A fixed script; the command reaches it as argv ("$@"), never as text. setsid (detached): the worker's
        // shutdown does not take the pending reboot with it.
        const child = spawn('/bin/sh', ['-c', 'sleep "$1"; shift; exec "$@"', 'qubinode-reboot', String(REBOOT_DELAY_SECONDS), file, ...args], {
          detached: true,
          stdio: ['ignore', log.fd, log.fd],
          env: process.env,
        });
        await new Promise<void>((resolve, reject) => {
          child.once('spawn', resolve);
          child.once('error', reject);
        }).catch((error: unknown) => {
          throw ApplicationFailure.nonRetryable(`could not schedule the reboot: ${(error as Error).message}`, HOST_REBOOT_FAILURES.rebootCommandFailed);
        });
        child.unref();
        scheduled.add(key);
      } finally {
        await log.close();
      }
      return { ...answer, triggered: true };
    },

    /** Who polls the host's queue now (control plane). */
    async hostPollers(request: PollersRequest): Promise<HostPollers> {
      const pollers = await describe(await needClient(), request.host);
      const last = Math.max(0, ...pollers.map((poller) => poller.lastAccessMs ?? 0));
      return { identities: pollers.map((poller) => poller.identity), ...(last > 0 ? { lastSeen: new Date(last).toISOString() } : {}) };
    },

    /**
     * Waits (control plane) until a worker that did not poll before the reboot polls the host's queue; fails
     * with HostDidNotComeBack at the deadline. Heartbeats while it waits.
     */
    async waitForHostWorker(request: WaitRequest): Promise<WaitResult> {
      const client = await needClient();
      const ctx = Context.current();
      const previous = new Set(request.previous);
      let lastSeenMs = request.lastSeen ? Date.parse(request.lastSeen) : 0;
      for (;;) {
        const pollers = await describe(client, request.host);
        const back = pollers.find((poller) => poller.identity !== '' && !previous.has(poller.identity));
        if (back) {
          const now = Date.now();
          return { identity: back.identity, backAt: new Date(now).toISOString(), downForMs: Math.max(0, now - request.triggeredAtMs) };
        }
        for (const poller of pollers) if (previous.has(poller.identity)) lastSeenMs = Math.max(lastSeenMs, poller.lastAccessMs ?? 0);
        if (Date.now() >= request.deadlineMs) {
          const lastSeen = lastSeenMs > 0 ? new Date(lastSeenMs).toISOString() : 'never';
          throw ApplicationFailure.create({
            type: HOST_REBOOT_FAILURES.didNotComeBack,
            nonRetryable: true,
            message: `host ${request.host} did not come back within ${request.waitFor} (last seen ${lastSeen})`,
            details: [{ host: request.host, lastSeen }],
          });
        }
        ctx.heartbeat({ waiting: request.host, since: new Date(request.triggeredAtMs).toISOString() });
        await ctx.sleep(Math.min(pollMs, Math.max(1, request.deadlineMs - Date.now())));
      }
    },
  };
}

export type HostRebootActivities = ReturnType<typeof createHostRebootActivities>;
