import * as wf from '@temporalio/workflow';
import { RolloutInput, type RolloutHook } from '../dag-repos/actions/rollout-inputs';
import type { CompiledDag, PinnedAction } from '../dag-repos/compiler/compiled-dag';
import type { SecretRef } from '../dag-repos/compiler/secret-references';
import { parseDuration } from '../dag-repos/schema/duration';
import { nextWindow, windowWaitText } from '../dag-repos/schema/maintenance-window';
import { resolveParams } from '../dag-repos/schema/params';
import { abortSignal, actorText, ApprovalGates, childWaitingSignal } from './approvals';
import { allUndone as everyStepUndone, runCompensations } from './compensation';
import { toTaskError } from './failures';
import type { AbortRequest, RollbackTrigger, RolloutProgress, RolloutTargetStatus } from './rollback-status';
import { runHook, sampleChecks, type RolloutActionContext } from './rollout-actions';
import { rolloutDetails, withCounts } from './rollout-progress';
import { batchConcurrency, normaliseTargets, overErrorRate, overThreshold, planBatches, type RolloutTargetRef } from './rollout-strategies';
import type { DagRunStatus } from './run-status';
import { runSearchAttributes } from './search-attributes';
import { Semaphore } from './semaphore';
import { inheritedStarter } from './task-executor';
import { zodProblems } from '../dag-repos/schema/zod-problems';
import { rolloutTargetRunKey, runWorkflowId } from './workflow-ids';

export interface RolloutWorkflowInput {
  /** The parent's rollout task: approval gates between steps use this id. */
  taskId: string;
  parentRunKey: string;
  /** The per-target step DAG, pinned with the parent. */
  step: CompiledDag;
  /** The task's rendered `with`. */
  with: Record<string, unknown>;
  /** The rollout task's author-written secret references (paths inside `with`); checks and hooks resolve theirs. */
  secretRefs?: SecretRef[];
  /** Queue of workflows (the step runs); target work goes to the targets' queues through the step's runsOn. */
  taskQueue: string;
  /** The checks' and hooks' actions, pinned with the plan at sync. Absent for rollouts started before they were pinned. */
  actions?: Record<string, PinnedAction>;
}

export const rolloutQuery = wf.defineQuery<RolloutProgress>('rollout');

interface Halt {
  trigger: RollbackTrigger;
  reason: string;
}

interface Changed {
  target: RolloutTargetRef;
  params: Record<string, unknown>;
  status?: DagRunStatus;
}

function failureStatus(error: unknown): DagRunStatus | undefined {
  const cause = (error as { cause?: { details?: unknown[] } }).cause;
  const details = cause?.details?.[0];
  return details && typeof details === 'object' && 'tasks' in details ? (details as DagRunStatus) : undefined;
}

/** One rollout: batches of targets, each target's step as a child DAG run, analysis per batch, rollback in reverse. */
class Rollout {
  private readonly spec: RolloutInput;
  private readonly targets: RolloutTargetRef[];
  private readonly batches: RolloutTargetRef[][];
  private readonly changed: Changed[] = [];
  private readonly gates = new ApprovalGates({
    onChange: () => this.publish(),
    // The parent run shows as waiting (qubinode runs --waiting) while a step gate is open here.
    onOpen: async (taskId, waiting) => {
      const parent = wf.workflowInfo().parent;
      if (parent) await wf.getExternalWorkflowHandle(parent.workflowId).signal(childWaitingSignal, { taskId, waiting }).catch(() => undefined);
    },
  });
  private readonly id = wf.workflowInfo().workflowId;
  private readonly root = wf.CancellationScope.current();
  private batchScope: wf.CancellationScope | undefined;
  private aborted: AbortRequest | undefined;
  progress: RolloutProgress;

  constructor(private readonly input: RolloutWorkflowInput) {
    const parsed = RolloutInput.safeParse(input.with);
    if (!parsed.success) throw wf.ApplicationFailure.nonRetryable(`rollout ${input.taskId}: ${zodProblems(parsed.error, '').join('; ')}`, 'InvalidActionInput');
    this.spec = parsed.data;
    this.targets = normaliseTargets(this.spec.targets);
    this.batches = planBatches(this.spec.strategy, this.targets, { steps: this.spec.steps, batchSize: this.spec.batchSize });
    const batchOf = new Map(this.batches.flatMap((batch, index) => batch.map((target) => [target.name, index + 1] as const)));
    this.progress = {
      rolloutId: this.id,
      strategy: this.spec.strategy,
      state: 'running',
      batch: 0,
      batches: this.batches.length,
      done: 0,
      failed: 0,
      targets: this.targets.map((target) => ({ ...target, batch: batchOf.get(target.name) ?? 0, state: 'pending' })),
      analyses: [],
      approvals: [],
    };
  }

  register(): void {
    this.gates.register();
    wf.setHandler(rolloutQuery, () => this.progress);
    wf.setHandler(abortSignal, (request) => {
      this.aborted ??= request;
      this.batchScope?.cancel();
    });
  }

  private publish(): void {
    this.progress = withCounts(this.progress, this.gates.list());
    wf.setCurrentDetails(rolloutDetails(this.progress, this.spec.strategy));
  }

  private setTarget(name: string, patch: Partial<RolloutTargetStatus>): void {
    this.progress = { ...this.progress, targets: this.progress.targets.map((t) => (t.name === name ? { ...t, ...patch } : t)) };
    this.publish();
  }

  private abortHalt(): Halt | undefined {
    if (this.aborted) return { trigger: 'manual-abort', reason: `aborted by ${actorText(this.aborted)}${this.aborted.reason ? `: ${this.aborted.reason}` : ''}` };
    if (this.root.consideredCancelled) return { trigger: 'manual-abort', reason: 'the parent run was cancelled or aborted' };
    return undefined;
  }

  async run(): Promise<RolloutProgress> {
    this.publish();
    let halt: Halt | undefined;
    try {
      halt = await this.stages();
    } catch (error) {
      if (!wf.isCancellation(error)) throw error;
      halt = this.abortHalt() ?? { trigger: 'manual-abort', reason: 'cancelled' };
    }
    if (halt) {
      await wf.CancellationScope.nonCancellable(() => this.rollBack(halt));
      if (this.root.consideredCancelled) throw new wf.CancelledFailure('rollout cancelled after rolling back');
      return this.progress;
    }
    this.progress = { ...this.progress, state: 'succeeded' };
    this.publish();
    return this.progress;
  }

  /** Every batch in turn; the first reason to halt ends it. */
  private async stages(): Promise<Halt | undefined> {
    const blueGreen = this.spec.strategy === 'blue-green';
    for (const [index, batch] of this.batches.entries()) {
      if (index > 0) {
        const halt = await this.betweenBatches();
        if (halt) return halt;
      }
      // Without a window nothing here issues a command, so rollouts recorded before windows replay unchanged.
      if (this.spec.maintenanceWindow) {
        const halt = await this.waitForWindow(index + 1);
        if (halt) return halt;
      }
      this.progress = { ...this.progress, batch: index + 1, ...(blueGreen ? { phase: 'prepare' } : {}) };
      this.publish();
      const halt = (await this.runBatch(batch)) ?? this.abortHalt() ?? (await this.analyse(batch, index + 1));
      if (halt) return halt;
    }
    return blueGreen ? this.switchOver() : undefined;
  }

  private async betweenBatches(): Promise<Halt | undefined> {
    try {
      if (this.spec.pause) await this.cancellable(() => wf.sleep(parseDuration(this.spec.pause as string)));
      if (this.spec.approveBetween) {
        this.progress = { ...this.progress, state: 'waiting' };
        const record = await this.cancellable(() => this.gates.wait(this.input.taskId, { message: `continue the rollout with batch ${this.progress.batch + 1} of ${this.batches.length}?`, approvers: this.spec.approvers, onTimeout: 'reject' }));
        this.progress = { ...this.progress, state: 'running' };
        if (record.state === 'rejected') return { trigger: 'manual', reason: `rejected by ${record.by ?? '?'} before batch ${this.progress.batch + 1}${record.comment ? `: ${record.comment}` : ''}` };
      }
    } catch (error) {
      if (!wf.isCancellation(error)) throw error;
    }
    return this.abortHalt();
  }

  /** Waits, abortably, until the maintenance window is open; the phase says when it opens. */
  private async waitForWindow(batchNumber: number): Promise<Halt | undefined> {
    const window = this.spec.maintenanceWindow;
    if (!window) return undefined;
    const previousPhase = this.progress.phase;
    try {
      for (let state = nextWindow(window, Date.now()); !state.open; state = nextWindow(window, Date.now())) {
        const opensAt = state.opensAt ?? Date.now();
        this.progress = { ...this.progress, phase: windowWaitText(opensAt) };
        this.publish();
        wf.log.info('rollout waits for its maintenance window', { batch: batchNumber, opensAt: new Date(opensAt).toISOString() });
        await this.cancellable(() => wf.sleep(Math.max(1, opensAt - Date.now())));
      }
    } catch (error) {
      if (!wf.isCancellation(error)) throw error;
    }
    const { phase: _waiting, ...rest } = this.progress;
    this.progress = previousPhase === undefined ? rest : { ...rest, phase: previousPhase };
    this.publish();
    return this.abortHalt();
  }

  /** Runs `fn` in a scope an abort cancels. */
  private async cancellable<T>(fn: () => Promise<T>): Promise<T> {
    this.batchScope = new wf.CancellationScope();
    try {
      return await this.batchScope.run(fn);
    } finally {
      this.batchScope = undefined;
    }
  }

  private async runBatch(batch: RolloutTargetRef[]): Promise<Halt | undefined> {
    const slots = new Semaphore(batchConcurrency(this.spec.strategy, batch.length, this.spec.maxUnavailable, this.targets.length));
    const outcomes: ('ok' | 'failed' | 'timeout' | 'aborted')[] = [];
    try {
      await this.cancellable(() => Promise.all(batch.map((target) => slots.withSlot(async () => outcomes.push(await this.runTarget(target))))));
    } catch (error) {
      if (!wf.isCancellation(error)) throw error;
    }
    const failed = outcomes.filter((outcome) => outcome === 'failed' || outcome === 'timeout').length;
    const totalFailed = this.progress.targets.filter((t) => t.state === 'failed').length;
    const aborted = this.abortHalt();
    if (aborted) return aborted;
    if (outcomes.includes('timeout') && overThreshold(totalFailed, this.spec.failureThreshold, this.targets.length)) return { trigger: 'step-timeout', reason: `a target's step ran longer than ${this.spec.stepTimeout ?? '?'}` };
    if (overErrorRate(failed, batch.length, this.spec.maxErrorRate)) return { trigger: 'error-rate', reason: `${failed} of ${batch.length} targets in batch ${this.progress.batch} failed (more than ${this.spec.maxErrorRate ?? ''})` };
    if (overThreshold(totalFailed, this.spec.failureThreshold, this.targets.length)) {
      const names = this.progress.targets.filter((t) => t.state === 'failed').map((t) => t.name);
      return { trigger: 'failure-threshold', reason: `${totalFailed} failed target(s) (${names.join(', ')}); tolerated ${String(this.spec.failureThreshold)}` };
    }
    return undefined;
  }

  private async runTarget(target: RolloutTargetRef): Promise<'ok' | 'failed' | 'timeout' | 'aborted'> {
    if (this.aborted) return 'aborted';
    const { step } = this.input;
    const given = { ...this.spec.params, ...('target' in step.params ? { target: target.name } : {}), ...('queue' in step.params ? { queue: target.queue } : {}) };
    const runKey = rolloutTargetRunKey(this.input.parentRunKey, this.input.taskId, target.name);
    const workflowId = runWorkflowId(step.catalogId, runKey);
    const changed: Changed = { target, params: given };
    this.changed.push(changed);
    this.setTarget(target.name, { state: 'updating', childRunId: workflowId, startedAt: new Date().toISOString() });
    let timedOut = false;
    try {
      const params = resolveParams(step.params, given);
      const run = (): Promise<DagRunStatus> =>
        wf.executeChild('dagRun', {
          workflowId,
          taskQueue: this.input.taskQueue,
          // The rollout undoes targets itself, in reverse order across targets: the step never rolls back alone.
          args: [{ dag: { ...step, rollback: 'none' }, params, runKey, taskQueue: this.input.taskQueue }],
          cancellationType: wf.ChildWorkflowCancellationType.WAIT_CANCELLATION_COMPLETED,
          parentClosePolicy: wf.ParentClosePolicy.REQUEST_CANCEL,
          staticSummary: `${step.catalogId} on ${target.name} (rollout ${this.id})`,
          typedSearchAttributes: runSearchAttributes(step, inheritedStarter()),
        }) as Promise<DagRunStatus>;
      const limitMs = this.spec.stepTimeout ? parseDuration(this.spec.stepTimeout) : undefined;
      const status = limitMs
        ? await wf.CancellationScope.withTimeout(limitMs, run).catch((error: unknown) => {
            timedOut = wf.isCancellation(error) && !this.aborted && !this.root.consideredCancelled;
            throw error;
          })
        : await run();
      changed.status = status;
      this.setTarget(target.name, { state: 'updated', endedAt: new Date().toISOString() });
      return 'ok';
    } catch (error) {
      const status = failureStatus(error);
      if (status) changed.status = status;
      const message = timedOut ? `step timed out after ${this.spec.stepTimeout ?? '?'}` : toTaskError(error).message;
      this.setTarget(target.name, { state: 'failed', endedAt: new Date().toISOString(), error: message });
      return timedOut ? 'timeout' : this.abortHalt() ? 'aborted' : 'failed';
    }
  }

  /** Runs the batch's health checks and records their verdict; a failed verdict halts the rollout. */
  private async analyse(batch: RolloutTargetRef[], batchNumber: number): Promise<Halt | undefined> {
    const analysis = this.spec.analysis;
    if (!analysis) return undefined;
    if (this.spec.strategy === 'blue-green') this.setPhase('verify');
    const verdict = await sampleChecks(analysis, batch, batchNumber, this.actionContext());
    this.progress = { ...this.progress, analyses: [...this.progress.analyses, { batch: batchNumber, ...verdict }] };
    this.publish();
    return verdict.passed ? undefined : { trigger: 'health-check', reason: `health checks failed ${verdict.failures} of ${verdict.samples} times after batch ${batchNumber} (tolerated ${analysis.maxFailures}): ${verdict.firstFailure ?? ''}` };
  }

  private actionContext(): RolloutActionContext {
    return { runQueue: this.input.taskQueue, runId: this.id, runKey: this.input.parentRunKey, step: this.input.step, actions: this.input.actions, secretRefs: this.input.secretRefs };
  }

  private setPhase(phase: string): void {
    this.progress = { ...this.progress, phase };
    this.publish();
  }

  private async hook(name: 'switch' | 'switch-back', hook: RolloutHook | undefined): Promise<void> {
    if (hook) await runHook(name, hook, this.actionContext());
  }

  /** blue-green after the green side is ready and verified: switch, then keep the blue side for the rollback window. */
  private async switchOver(): Promise<Halt | undefined> {
    this.setPhase('switch');
    try {
      await this.hook('switch', this.spec.switch);
    } catch (error) {
      return { trigger: 'task-failure', reason: `switch failed: ${toTaskError(error).message}` };
    }
    if (this.spec.rollbackWindow) {
      this.setPhase('window');
      await wf.condition(() => this.aborted !== undefined || this.root.consideredCancelled, parseDuration(this.spec.rollbackWindow));
      const halt = this.abortHalt();
      if (halt) return { ...halt, reason: `${halt.reason} (within the rollback window)` };
    }
    this.setPhase('released');
    return undefined;
  }

  /** Undoes every changed target, last changed first; targets never started stay untouched. */
  private async rollBack(halt: Halt): Promise<void> {
    const order = [...this.changed].reverse();
    this.progress = { ...this.progress, rollback: { ...halt, at: new Date().toISOString(), order: order.map((entry) => entry.target.name) } };
    this.publish();
    if (this.spec.strategy === 'blue-green' && (this.progress.phase === 'window' || this.progress.phase === 'switch')) {
      await this.hook('switch-back', this.spec.switchBack).catch((error: unknown) => wf.log.warn('switch back failed', { error: toTaskError(error).message }));
      this.setPhase('switched-back');
    }
    let allUndone = true;
    for (const entry of order) {
      this.setTarget(entry.target.name, { state: 'rolling-back' });
      const records = await runCompensations({
        dag: this.input.step,
        tasks: entry.status?.tasks ?? [],
        params: entry.params,
        taskQueue: this.input.taskQueue,
        runId: this.id,
        runKey: this.input.parentRunKey,
        target: entry.target.name,
        statesUnknown: entry.status === undefined,
      });
      const ok = everyStepUndone(records);
      allUndone &&= ok;
      this.setTarget(entry.target.name, { state: ok ? 'rolled-back' : 'rollback-failed', compensations: records });
    }
    this.progress = { ...this.progress, state: allUndone ? 'rolled-back' : 'failed' };
    this.publish();
  }
}

/** The `rollout` child workflow: see docs/rollouts-and-approvals.md. Returns its final progress (state rolled-back when it halted). */
export async function rollout(input: RolloutWorkflowInput): Promise<RolloutProgress> {
  const runner = new Rollout(input);
  runner.register();
  return runner.run();
}
