import { TimeoutType } from '@temporalio/common';
import * as wf from '@temporalio/workflow';
import type { ActionInvocation, ActionResult } from '../dag-repos/actions/action-types';
import type { CompiledDag, CompiledTask } from '../dag-repos/compiler/compiled-dag';
import { parseDuration } from '../dag-repos/schema/duration';
import { resolveParams } from '../dag-repos/schema/params';
import { ApprovalInput } from '../dag-repos/actions/rollout-inputs';
import { WORKER_LOST } from '../dag-repos/actions/action-definition';
import type { TaskFailureType } from '../dag-repos/actions/failure-types';
import type { ActionWorkflowInput, ActionWorkflowResult } from './action-workflow';
import { approvalOutcome, type ApprovalGates } from './approvals';
import type { HostStatusActivities } from './host-registry-state';
import type { RolloutProgress } from './rollback-status';
import { assertNever, type DagRunStatus } from './run-status';
import { runSearchAttributes, STARTED_BY_KEY, taskWorkflowSearchAttributes } from './search-attributes';
import { zodProblems } from '../dag-repos/schema/zod-problems';
import { actionWorkflowId, itemRunKey, rolloutWorkflowId, subDagWorkflowId, taskRunKey } from './workflow-ids';

/** Where and as what one task (or one forEach item) runs. */
export interface TaskInvocation {
  task: CompiledTask;
  /** Inputs with templates rendered. */
  inputs: Record<string, unknown>;
  itemIndex?: number;
  taskQueue: string;
  /** The run's own queue (where its workflow runs), whatever the task's runsOn. */
  runQueue: string;
  runId: string;
  runKey: string;
  dag: CompiledDag;
  /** Called when a child DAG run starts, with its workflow id. */
  onChildStarted?: (workflowId: string) => void;
  /** The run's approval gates, for `approval` tasks. */
  approvals?: ApprovalGates;
  /** Called when the task starts waiting for a person. */
  onWaiting?: () => void;
}

export interface ExecutedAction extends ActionResult {
  attempt: number;
}

type ActionActivity = (invocation: ActionInvocation) => Promise<ActionResult & { attempt?: number }>;

/** Patch id: a task on a host queue waits a bounded time for that host's worker, then fails naming the host. */
const HOST_WORKER_WAIT = 'host-worker-wait';
/** How long a task waits for its host's worker when the DAG does not say. */
export const DEFAULT_HOST_WORKER_WAIT_MS = 10 * 60_000;

/** The schedule-to-start limit of a task on a host queue; undefined on the run's own queue (its workflow needs that worker anyway). */
function hostWorkerWaitMs(call: TaskInvocation): number | undefined {
  if (call.taskQueue === call.runQueue || !wf.patched(HOST_WORKER_WAIT)) return undefined;
  const hosts = call.dag.hosts;
  return hosts?.workerWaitForMs[call.taskQueue] ?? hosts?.workerWaitMs ?? DEFAULT_HOST_WORKER_WAIT_MS;
}

function activityFor(call: TaskInvocation, maximumAttempts = call.task.retry.maximumAttempts): ActionActivity {
  const { task } = call;
  const workerWaitMs = hostWorkerWaitMs(call);
  if (task.execution.kind !== 'activity') throw new Error('not an activity task');
  const itemSuffix = call.itemIndex === undefined ? '' : `[${call.itemIndex}]`;
  const activities = wf.proxyActivities<Record<string, ActionActivity>>({
    activityId: `${task.id}${itemSuffix}`,
    summary: `${task.id}${itemSuffix} · ${task.action}`,
    taskQueue: call.taskQueue,
    startToCloseTimeout: task.timeoutMs ?? task.defaultTimeoutMs,
    ...(workerWaitMs === undefined ? {} : { scheduleToStartTimeout: workerWaitMs }),
    ...(task.heartbeatTimeoutMs ? { heartbeatTimeout: Math.min(task.heartbeatTimeoutMs, task.timeoutMs ?? Infinity) } : {}),
    cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      maximumAttempts,
      initialInterval: task.retry.initialIntervalMs,
      backoffCoefficient: task.retry.backoffCoefficient,
      ...(task.retry.maximumIntervalMs ? { maximumInterval: task.retry.maximumIntervalMs } : {}),
      nonRetryableErrorTypes: task.nonRetryableErrors,
    },
  });
  const activity = activities[task.execution.activity];
  if (!activity) throw new Error(`no activity ${task.execution.activity}`);
  return activity;
}

/**
 * How often one task may be lost to a dead worker and run again. Apart from the DAG's `retry:`, which
 * counts the task's own failures: a worker killed mid-task says nothing about the task.
 */
const WORKER_LOSS_BUDGET = 3;

/**
 * Runs an action activity; when the worker running it dies (its restarted successor reports the attempt
 * lost, or its heartbeats stop), runs it again with the DAG's retry attempts it had left, up to
 * WORKER_LOSS_BUDGET times. Runs recorded before this existed keep failing as they did (the patch).
 * `firstFailure` is set when the first attempt was already made (by executeActivity) and failed with it.
 */
async function runOnSomeWorker(call: TaskInvocation, invocation: ActionInvocation, firstFailure?: { error: unknown }): Promise<ExecutedAction> {
  const allowed = call.task.retry.maximumAttempts;
  let usedBefore = 0;
  for (let losses = 0; ; losses += 1) {
    try {
      if (losses === 0 && firstFailure) throw firstFailure.error;
      const result = await activityFor(call, allowed - usedBefore)(invocation);
      return { ...result, attempt: usedBefore + (result.attempt ?? 1) };
    } catch (error) {
      if (isScheduleToStartTimeout(error)) throw await hostWithoutWorker(call, error);
      const lost = lostAttempt(error, allowed - usedBefore);
      if (lost === undefined || losses >= WORKER_LOSS_BUDGET || !wf.patched('worker-loss-retry')) throw error;
      // The lost attempt does not count; the ones before it (the task's own failures) do.
      usedBefore += lost - 1;
      wf.log.warn('task attempt lost with its worker; running it again', { taskId: call.task.id, itemIndex: call.itemIndex, attempt: usedBefore + lost, losses: losses + 1 });
    }
  }
}

function isScheduleToStartTimeout(error: unknown): boolean {
  return error instanceof wf.ActivityFailure && error.cause instanceof wf.TimeoutFailure && error.cause.timeoutType === TimeoutType.SCHEDULE_TO_START;
}

/** The failure of a task whose host had no worker to take it within the limit: names the host and since when it is gone. */
async function hostWithoutWorker(call: TaskInvocation, cause: unknown): Promise<wf.ApplicationFailure> {
  const waitedMs = hostWorkerWaitMs(call) ?? 0;
  let since = `for at least ${Math.round(waitedMs / 1000)}s`;
  try {
    const { hostStatus } = wf.proxyActivities<HostStatusActivities>({
      taskQueue: call.runQueue,
      startToCloseTimeout: '30s',
      retry: { maximumAttempts: 2 },
    });
    const status = await hostStatus({ queue: call.taskQueue });
    if (status.lastSeen) since = `since ${status.lastSeen}`;
    else if (!status.known) since = '(no worker has ever announced this host)';
  } catch {
    // Its last sighting is unknown; the wait itself is certain.
  }
  return wf.ApplicationFailure.create({
    type: 'HostWithoutWorker' satisfies TaskFailureType,
    nonRetryable: true,
    message: `host ${call.taskQueue} has no worker ${since}: task ${call.task.id} waited ${Math.round(waitedMs / 1000)}s for one`,
    details: [{ host: call.taskQueue, waitedMs }],
    cause: cause instanceof Error ? cause : undefined,
  });
}

/** The attempt number a worker's death took, or undefined when the failure is the task's own. */
function lostAttempt(error: unknown, attemptsGiven: number): number | undefined {
  if (!(error instanceof wf.ActivityFailure)) return undefined;
  const cause = error.cause;
  if (cause instanceof wf.ApplicationFailure && cause.type === WORKER_LOST) {
    const details = cause.details?.[0] as { attempt?: unknown } | undefined;
    return typeof details?.attempt === 'number' && details.attempt >= 1 ? Math.min(details.attempt, attemptsGiven) : attemptsGiven;
  }
  // Heartbeats stopped with no worker to say why: Temporal retried while attempts were left, so the last one was lost.
  if (cause instanceof wf.TimeoutFailure && cause.timeoutType === TimeoutType.HEARTBEAT) return attemptsGiven;
  return undefined;
}

function childOutputs(result: DagRunStatus): Record<string, unknown> {
  return {
    runId: result.runId,
    state: result.state,
    tasks: Object.fromEntries(result.tasks.map((task) => [task.id, task.outputs ?? {}])),
  };
}

/** What an activity task sends its worker. */
function activityInvocation(call: TaskInvocation): ActionInvocation {
  const { task } = call;
  return {
    runId: call.runId,
    dagId: call.dag.catalogId,
    source: { repo: call.dag.origin.repo, commit: call.dag.origin.commit, ...(call.dag.origin.url ? { url: call.dag.origin.url } : {}), ...(call.dag.origin.credentialEnv ? { credentialEnv: call.dag.origin.credentialEnv } : {}) },
    taskId: task.id,
    ...(call.itemIndex === undefined ? {} : { itemIndex: call.itemIndex }),
    with: call.inputs,
    // Only these author-written references are resolved; a plan compiled without them resolves none.
    ...(task.secretRefs ? { secretRefs: task.secretRefs } : {}),
  };
}

/**
 * Runs an activity task on a worker, for the run's lean task path (dag-run.ts): the first attempt is called
 * with no promise of ours around it (the SDK captures a stack trace for each), and only a failure goes
 * through runOnSomeWorker, which runs a task again whose worker was lost.
 */
export function executeActivity(call: TaskInvocation): Promise<ExecutedAction> {
  const invocation = activityInvocation(call);
  return activityFor(call)(invocation).then(
    (result) => ({ ...result, attempt: result.attempt ?? 1 }),
    (error: unknown) => runOnSomeWorker(call, invocation, { error }),
  );
}

/** Carries out one action by its execution kind: an activity, a durable timer, or a child DAG run. */
export async function executeAction(call: TaskInvocation): Promise<ExecutedAction> {
  const { task } = call;
  const execution = task.execution;
  switch (execution.kind) {
    case 'activity':
      return runOnSomeWorker(call, activityInvocation(call));
    case 'timer': {
      const durationMs = parseDuration(String(call.inputs.duration));
      await wf.sleep(durationMs);
      return { outputs: { sleptMs: durationMs }, summary: `slept ${String(call.inputs.duration)}`, attempt: 1 };
    }
    case 'child-dag': {
      const child = task.childDag ? call.dag.children[task.childDag] : undefined;
      if (!child) throw wf.ApplicationFailure.nonRetryable(`sub-DAG ${task.childDag ?? '?'} is not part of this run's plan`, 'InvalidActionInput');
      const params = resolveParams(child.params, (call.inputs.params as Record<string, unknown> | undefined) ?? {});
      const runKey = taskRunKey(call.runKey, task.id, call.itemIndex);
      const workflowId = subDagWorkflowId(child.catalogId, call.runKey, task.id, call.itemIndex);
      call.onChildStarted?.(workflowId);
      const result = await wf.executeChild('dagRun', {
        workflowId,
        taskQueue: call.taskQueue,
        args: [{ dag: child, params, runKey, taskQueue: call.taskQueue }],
        cancellationType: wf.ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
        parentClosePolicy: wf.ParentClosePolicy.REQUEST_CANCEL,
        staticSummary: `${child.catalogId} (called by ${call.dag.catalogId} task ${task.id})`,
        typedSearchAttributes: runSearchAttributes(child, inheritedStarter()),
      });
      const status = result as DagRunStatus;
      return { outputs: childOutputs(status), summary: `${child.catalogId}: ${status.state}`, attempt: 1 };
    }
    case 'approval':
      return { ...(await waitForApproval(call)), attempt: 1 };
    case 'rollout':
      return { ...(await runRollout(call)), attempt: 1 };
    case 'workflow':
      return { ...(await runActionWorkflow(call, execution.workflow)), attempt: 1 };
    default:
      return assertNever(execution);
  }
}

/**
 * Child runs and rollouts carry who started the run above them, so filtering by person finds them
 * too. Undefined for runs without a starter (all runs recorded before starters existed), whose child
 * commands therefore stay exactly as they were.
 */
export function inheritedStarter(): string | undefined {
  return wf.workflowInfo().typedSearchAttributes.get(STARTED_BY_KEY);
}

async function waitForApproval(call: TaskInvocation): Promise<{ outputs: Record<string, unknown>; summary: string }> {
  const parsed = ApprovalInput.safeParse(call.inputs);
  if (!parsed.success) throw wf.ApplicationFailure.nonRetryable(`approval ${call.task.id}: ${zodProblems(parsed.error, '').join('; ')}`, 'InvalidActionInput');
  if (!call.approvals || call.itemIndex !== undefined) throw wf.ApplicationFailure.nonRetryable(`approval ${call.task.id}: approvals cannot run here (not in forEach or compensations)`, 'InvalidActionInput');
  const { message, approvers, timeout, onTimeout } = parsed.data;
  call.onWaiting?.();
  const record = await call.approvals.wait(call.task.id, { ...(message ? { message } : {}), approvers, ...(timeout ? { timeoutMs: parseDuration(timeout) } : {}), onTimeout });
  return approvalOutcome(record);
}

/** Runs an action carried out by a workflow of its own (several steps across queues) as a child of the run. */
async function runActionWorkflow(call: TaskInvocation, workflowType: string): Promise<ActionWorkflowResult> {
  const { task } = call;
  const workflowId = actionWorkflowId(call.dag.catalogId, call.runKey, task.id, call.itemIndex);
  call.onChildStarted?.(workflowId);
  const input: ActionWorkflowInput = {
    runId: call.runId,
    runKey: call.runKey,
    dagId: call.dag.catalogId,
    taskId: task.id,
    ...(call.itemIndex === undefined ? {} : { itemIndex: call.itemIndex }),
    host: call.taskQueue,
    controlQueue: call.runQueue,
    with: call.inputs,
    source: { repo: call.dag.origin.repo, commit: call.dag.origin.commit, ...(call.dag.origin.url ? { url: call.dag.origin.url } : {}), ...(call.dag.origin.credentialEnv ? { credentialEnv: call.dag.origin.credentialEnv } : {}) },
    ...(task.secretRefs ? { secretRefs: task.secretRefs } : {}),
    timeoutMs: task.timeoutMs ?? task.defaultTimeoutMs,
    ...(task.heartbeatTimeoutMs ? { heartbeatTimeoutMs: task.heartbeatTimeoutMs } : {}),
  };
  return (await wf.executeChild(workflowType, {
    workflowId,
    taskQueue: call.runQueue,
    args: [input],
    cancellationType: wf.ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
    parentClosePolicy: wf.ParentClosePolicy.REQUEST_CANCEL,
    staticSummary: `${task.action} on ${call.taskQueue} (${call.dag.catalogId} task ${task.id})`,
    typedSearchAttributes: taskWorkflowSearchAttributes(call.dag.catalogId, inheritedStarter()),
  })) as ActionWorkflowResult;
}

/** Starts the `rollout` child workflow for a rollout task; a halted rollout fails the task after rolling back. */
async function runRollout(call: TaskInvocation): Promise<{ outputs: Record<string, unknown>; summary: string }> {
  const { task } = call;
  const step = task.childDag ? call.dag.children[task.childDag] : undefined;
  if (!step) throw wf.ApplicationFailure.nonRetryable(`rollout ${task.id}: step DAG ${task.childDag ?? '?'} is not part of this run's plan`, 'InvalidActionInput');
  const workflowId = rolloutWorkflowId(call.dag.catalogId, call.runKey, task.id, call.itemIndex);
  call.onChildStarted?.(workflowId);
  const progress = (await wf.executeChild('rollout', {
    workflowId,
    taskQueue: call.taskQueue,
    args: [{ taskId: task.id, parentRunKey: itemRunKey(call.runKey, call.itemIndex), step, with: call.inputs, taskQueue: call.taskQueue, ...(task.secretRefs ? { secretRefs: task.secretRefs } : {}), ...(task.rolloutActions ? { actions: task.rolloutActions } : {}) }],
    cancellationType: wf.ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
    parentClosePolicy: wf.ParentClosePolicy.REQUEST_CANCEL,
    staticSummary: `rollout of ${step.catalogId} (called by ${call.dag.catalogId} task ${task.id})`,
    typedSearchAttributes: taskWorkflowSearchAttributes(call.dag.catalogId, inheritedStarter()),
  })) as RolloutProgress;
  const names = (state: string): string[] => progress.targets.filter((target) => target.state === state).map((target) => target.name);
  const outputs = {
    rolloutId: progress.rolloutId,
    state: progress.state,
    updated: names('updated'),
    rolledBack: names('rolled-back'),
    untouched: names('pending'),
    ...(progress.rollback ? { rollback: progress.rollback } : {}),
  };
  if (progress.state === 'succeeded') return { outputs, summary: `${progress.strategy}: ${outputs.updated.length}/${progress.targets.length} targets updated` };
  throw wf.ApplicationFailure.create({
    type: 'RolloutHalted' satisfies TaskFailureType,
    nonRetryable: true,
    message: `rollout halted (${progress.rollback?.trigger ?? '?'}: ${progress.rollback?.reason ?? ''}); rolled back ${(progress.rollback?.order ?? []).filter((name) => outputs.rolledBack.includes(name)).join(', ') || 'nothing'}; untouched ${outputs.untouched.join(', ') || 'none'}`,
    details: [outputs],
  });
}
