import * as wf from '@temporalio/workflow';
import type { ActionInvocation, ActionResult } from '../dag-repos/actions/action-types';
import type { HostRebootActivities } from '../activities/actions/host-reboot';
import { HOST_REBOOT_FAILURES } from '../dag-repos/actions/host-actions';
import { HostRebootInput } from '../dag-repos/actions/host-reboot-input';
import { parseDuration } from '../dag-repos/schema/duration';
import { zodProblemsUnder } from '../dag-repos/schema/zod-problems';
import type { ActionWorkflowInput, ActionWorkflowResult } from './action-workflow';

/**
 * `host.reboot` (docs/reboots.md): drain the host's guests, note its boot, have it reboot, wait on the
 * control plane until a new worker polls the host's queue, verify the new boot, start the drained guests.
 * Every step is an activity, so the reboot survives the restart of any worker, the host's own included.
 */

/** Where the reboot is, for the Web UI's current details. */
type Phase = 'draining' | 'rebooting' | 'waiting for the host' | 'verifying' | 'starting guests' | 'done';

const SHORT = { startToCloseTimeout: '2m', retry: { maximumAttempts: 5, initialInterval: '1s', maximumInterval: '10s' } } as const;

/** An activity's failure as the task's own failure (same type and message), so the run shows why. */
function asTaskFailure(error: unknown): never {
  if (error instanceof wf.ActivityFailure && error.cause instanceof wf.ApplicationFailure) {
    const cause = error.cause;
    throw wf.ApplicationFailure.create({ type: cause.type ?? 'Error', message: cause.message, nonRetryable: true, details: cause.details ?? [] });
  }
  throw error;
}

async function step<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    return asTaskFailure(error);
  }
}

/** The host's answer to the verify command; a command that failed is the host failing its verification. */
async function verifyCommand(run: () => Promise<ActionResult>, stillStopped: string): Promise<ActionResult> {
  try {
    return await run();
  } catch (error) {
    const cause = error instanceof wf.ActivityFailure ? error.cause : undefined;
    if (cause instanceof wf.ApplicationFailure && ['CommandFailed', 'CommandNotFound', 'CommandTimedOut'].includes(cause.type ?? '')) {
      throw wf.ApplicationFailure.create({ type: HOST_REBOOT_FAILURES.verifyFailed, message: `verify command failed after the reboot: ${cause.message}${stillStopped}`, nonRetryable: true, details: cause.details ?? [] });
    }
    return asTaskFailure(error);
  }
}

function refuse(message: string, type: string): never {
  throw wf.ApplicationFailure.create({ type, message, nonRetryable: true });
}

export async function hostReboot(input: ActionWorkflowInput): Promise<ActionWorkflowResult> {
  const parsed = HostRebootInput.safeParse(input.with);
  if (!parsed.success) refuse(`host.reboot ${input.taskId}: ${zodProblemsUnder(parsed.error, 'with').join('; ')}`, 'InvalidActionInput');
  const spec = parsed.data;
  const { host } = input;
  // Without runsOn the "host" is whichever general worker takes the task: never reboot that.
  if (host === input.controlQueue) refuse(`host.reboot ${input.taskId}: give runsOn, the queue of the host to reboot (the run's own queue ${host} is no host)`, 'InvalidActionInput');
  const task = { runId: input.runId, taskId: input.taskId, ...(input.itemIndex === undefined ? {} : { itemIndex: input.itemIndex }) };
  const waitForMs = parseDuration(spec.waitFor);
  const graceMs = parseDuration(spec.drain.grace);
  const guestCount = spec.drain.guests === 'all' ? 50 : spec.drain.guests.length;

  const onHost = wf.proxyActivities<HostRebootActivities>({ taskQueue: host, ...SHORT });
  const draining = wf.proxyActivities<HostRebootActivities>({
    taskQueue: host,
    // Each guest gets its grace period; the heartbeat tells a dead host from a slow shutdown.
    startToCloseTimeout: guestCount * (graceMs + 5 * 60_000),
    heartbeatTimeout: '2m',
    retry: { maximumAttempts: 3, initialInterval: '5s' },
  });
  // The verify command is a command the DAG wrote: it runs as the host's `shell` action, so the host's policy
  // gate (a repository without shell is refused there too), the secret scope and the task log apply to it.
  const verifying = wf.proxyActivities<{ shell(invocation: ActionInvocation): Promise<ActionResult> }>({
    taskQueue: host,
    activityId: `${input.taskId}${input.itemIndex === undefined ? '' : `[${input.itemIndex}]`}.verify`,
    startToCloseTimeout: (spec.verify ? parseDuration(spec.verify.timeout) : 0) + 60_000,
    heartbeatTimeout: '1m',
    retry: { maximumAttempts: 1 },
  });
  const onControl = wf.proxyActivities<HostRebootActivities>({ taskQueue: input.controlQueue, ...SHORT });
  const waiting = wf.proxyActivities<HostRebootActivities>({
    taskQueue: input.controlQueue,
    startToCloseTimeout: waitForMs + 2 * 60_000,
    heartbeatTimeout: '30s',
    retry: { maximumAttempts: 10, initialInterval: '1s', maximumInterval: '10s' },
  });

  let phase: Phase = 'draining';
  const show = (next: Phase, note = ''): void => {
    phase = next;
    wf.setCurrentDetails(`**host.reboot** of ${host} · ${phase}${note ? ` · ${note}` : ''}`);
  };

  show('draining', spec.drain.mode);
  const drained = await step(() => draining.hostDrain({ ...task, drain: spec.drain }));
  const before = await step(() => onHost.hostRebootFacts());
  const pollers = await step(() => onControl.hostPollers({ host }));

  show('rebooting');
  const trigger = await step(() => onHost.hostRebootTrigger({ ...task, expectIdentity: before.workerIdentity }));
  const triggeredAtMs = Date.now();

  show('waiting for the host', `up to ${spec.waitFor}`);
  const back = await step(() =>
    waiting.waitForHostWorker({
      host,
      previous: [...new Set([...pollers.identities, before.workerIdentity])],
      deadlineMs: triggeredAtMs + waitForMs,
      waitFor: spec.waitFor,
      triggeredAtMs,
      ...(pollers.lastSeen ? { lastSeen: pollers.lastSeen } : {}),
    }),
  );

  show('verifying');
  const after = await step(() => onHost.hostRebootFacts());
  const stillStopped = drained.stopped.length > 0 ? ` (guests left stopped: ${drained.stopped.join(', ')})` : '';
  if (after.rebootChanges === 'boot') {
    if (after.bootId === undefined || after.bootId === before.bootId) refuse(`host ${host} answered again but did not reboot: its boot id is still ${before.bootId ?? 'unknown'}${stillStopped}`, HOST_REBOOT_FAILURES.notRebooted);
  } else if (after.workerIdentity === before.workerIdentity) {
    refuse(`host ${host} answered again from the same worker ${before.workerIdentity}: it did not restart${stillStopped}`, HOST_REBOOT_FAILURES.notRebooted);
  }
  if (spec.verify?.kernel !== undefined && after.kernel !== spec.verify.kernel) {
    refuse(`host ${host} runs kernel ${after.kernel} after the reboot, expected ${spec.verify.kernel}${stillStopped}`, HOST_REBOOT_FAILURES.verifyFailed);
  }
  const verified = spec.verify?.command ? await verifyCommand(() => verifying.shell({ ...task, dagId: input.dagId, source: input.source, with: { command: spec.verify?.command, timeout: spec.verify?.timeout } }), stillStopped) : undefined;
  let started: string[] = [];
  if (drained.stopped.length > 0) {
    show('starting guests');
    started = (await step(() => draining.hostGuestsStart({ ...task, tool: spec.drain.tool, guests: drained.stopped, ...(spec.drain.client ? { client: spec.drain.client } : {}) }))).started;
  }
  show('done');

  const outputs = {
    host,
    drained: { mode: spec.drain.mode, ...drained },
    started,
    bootIdBefore: before.bootId ?? null,
    bootIdAfter: after.bootId ?? null,
    workerBefore: before.workerIdentity,
    workerAfter: after.workerIdentity,
    kernelBefore: before.kernel,
    kernelAfter: after.kernel,
    rebootedBy: trigger.command,
    proof: after.rebootChanges === 'boot' ? 'boot id changed' : 'worker instance changed',
    downForMs: back.downForMs,
    backAt: back.backAt,
    ...(verified ? { verify: { exitCode: verified.outputs.exitCode, stdoutTail: verified.outputs.stdout } } : {}),
  };
  const guests = spec.drain.mode === 'none' ? 'no drain' : spec.drain.mode === 'migrate' ? `${drained.migrated.length} guest(s) migrated` : `${drained.stopped.length} guest(s) stopped, ${started.length} started again`;
  return { outputs, summary: `${host} rebooted and back after ${(back.downForMs / 1000).toFixed(1)}s (${outputs.proof}); ${guests}` };
}
