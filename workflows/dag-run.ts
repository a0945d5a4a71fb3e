import * as wf from '@temporalio/workflow';
import type { TaskFailureType } from '../dag-repos/actions/failure-types';
import type { CompiledDag, CompiledTask } from '../dag-repos/compiler/compiled-dag';
import { conditionExpression } from '../dag-repos/compiler/expression-checks';
import { HISTORY_LIMITS } from '../dag-repos/compiler/history-budget';
import { evaluateExpression, renderValue } from '../dag-repos/expressions';
import { maskSecretParams } from '../dag-repos/schema/params';
import { startFailureAnalysis } from './analyze-failure';
import { attemptOf, toTaskError } from './failures';
import { describeProgressView } from './progress';
import { ReadyQueue } from './ready-queue';
import { readsOf, type TaskReads } from './task-reads';
import { failureName, isTerminal, type DagRunStatus, type ItemStatus, type RunState, type TaskError, type TaskState, type TaskStatus } from './run-status';
import { STATUS_KEY } from './search-attributes';
import { Semaphore } from './semaphore';
import { RunControls } from './run-controls';
import { executeAction, executeActivity, type ExecutedAction } from './task-executor';
import { HostLocks } from './host-locks';
import { nextWindow } from '../dag-repos/schema/maintenance-window';
import { decideTrigger } from './trigger-rules';
import { runKeyFromWorkflowId, SCHEDULED_RUN_KEY } from './run-key';

export interface DagRunInput {
  dag: CompiledDag;
  /** Already resolved against the DAG's param specs. */
  params: Record<string, unknown>;
  runKey: string;
  /** Queue of this workflow and of tasks without runsOn. */
  taskQueue: string;
  /** qubinode retry: recorded results of tasks not to run again, by task id. */
  reuse?: Record<string, TaskStatus>;
  /** qubinode retry: the run this one retries. */
  retryOf?: string;
}

export const statusQuery = wf.defineQuery<DagRunStatus>('status');

const MAX_FOR_EACH_ITEMS = HISTORY_LIMITS.maxForEachItems;

/** Patch id: a run holds the hosts its tasks run on, one run per host at a time (workflows/host-lock.ts). */
const HOST_LOCK = 'host-lock';

/** A runsOn template that needs more than params and the run to render is known only when its task runs. */
const RENDERED_LATE = /\$\{\{[^}]*\b(tasks|item|itemIndex)\b/;

/** Patch id: a task cancelled on its own (run not cancelled) fails the run. */
const CANCELLED_TASK_FAILS_RUN = 'cancelled-task-fails-run';

/**
 * Patch id: a task goes from its run to its activity through one async function, taking a free slot without
 * waiting. The SDK captures a stack trace for every promise a workflow makes, which made the promises between
 * a run and its activities the largest cost per task; runs recorded before keep the path they took.
 */
const LEAN_TASK_PATH = 'lean-task-path';

function truthy(value: unknown): boolean {
  return Boolean(value) && !(Array.isArray(value) && value.length === 0);
}

function itemLabel(item: unknown): string {
  const text = typeof item === 'string' ? item : JSON.stringify(item) ?? String(item);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

function expressionError(error: unknown): TaskError {
  return { type: 'ExpressionError', message: error instanceof Error ? error.message : String(error), retryable: false };
}

/** Interprets one compiled DAG: schedules ready tasks within the concurrency limit, applies trigger rules, reports state. */
class DagRunner {
  private readonly statuses = new Map<string, TaskStatus>();
  private readonly slots: Semaphore;
  private readonly runId = wf.workflowInfo().workflowId;
  private readonly startedAt = new Date().toISOString();
  private endedAt: string | undefined;
  private state: RunState = 'running';
  private cancelled = false;
  private reason: string | undefined;
  private changed = false;
  private inFlight = 0;
  private readonly launched = new Set<string>();
  /** Approvals, abort, rollback, notifications (workflows/run-controls.ts). */
  readonly controls: RunControls;
  /** The hosts this run holds; undefined when it holds none (the DAG says so, or the run predates host locks). */
  private hostLocks: HostLocks | undefined;
  private readonly locks: HostLocks;
  private windowOpensAt: string | undefined;
  /** Tasks whose upstreams have all finished, so a step looks only at them (workflows/ready-queue.ts). */
  private readonly ready: ReadyQueue;
  private readonly indexOf = new Map<string, number>();
  /** Tasks per state, kept on each update so the progress line costs the same at any DAG size. */
  private readonly stateCounts = new Map<TaskState, number>();
  /** Per task: its entry in the `tasks` root of expression scopes, rebuilt only when the task changes. */
  private readonly scopeEntries = new Map<string, Record<string, unknown>>();
  private readonly reads = new Map<string, TaskReads>();
  /** Whether this run's tasks take the lean path (LEAN_TASK_PATH); decided once, when scheduling starts. */
  private leanTasks: boolean | undefined;

  constructor(private readonly input: DagRunInput) {
    this.controls = new RunControls(
      input,
      () => {
        this.changed = true;
      },
      // A rollout task shows `waiting` while its child waits at a step gate.
      (taskId, waiting) => {
        const state = this.statuses.get(taskId)?.state;
        if (state === 'running' || state === 'waiting') this.update(taskId, { state: waiting ? 'waiting' : 'running' });
      },
    );
    this.locks = new HostLocks(input.taskQueue, () => {
      this.changed = true;
    });
    this.slots = new Semaphore(input.dag.concurrency);
    for (const task of input.dag.tasks) {
      this.statuses.set(task.id, {
        id: task.id,
        ...(task.name ? { name: task.name } : {}),
        action: task.action,
        ...(task.needs.length ? { needs: task.needs } : {}),
        state: 'pending',
        attempt: 0,
      });
    }
    // A retry starts with the reused tasks already done: they are never scheduled.
    for (const [id, reused] of Object.entries(input.reuse ?? {})) {
      const fresh = this.statuses.get(id);
      if (fresh) this.statuses.set(id, { ...reused, ...(fresh.needs ? { needs: fresh.needs } : {}), state: 'succeeded', reusedFrom: input.retryOf ?? 'an earlier run' });
    }
    const { tasks } = input.dag;
    tasks.forEach((task, index) => this.indexOf.set(task.id, index));
    for (const status of this.statuses.values()) {
      this.stateCounts.set(status.state, (this.stateCounts.get(status.state) ?? 0) + 1);
      this.scopeEntries.set(status.id, scopeEntry(status));
    }
    this.ready = new ReadyQueue(
      tasks.map((task) => task.needs),
      tasks.map((task) => task.id),
      (index) => isTerminal(this.statusAt(index).state),
    );
  }

  private statusAt(index: number): TaskStatus {
    const status = this.statuses.get(this.input.dag.tasks[index]?.id ?? '');
    if (!status) throw new Error(`no task at ${index}`);
    return status;
  }

  status(): DagRunStatus {
    const tasks = [...this.statuses.values()];
    return {
      runId: this.runId,
      runKey: this.input.runKey,
      dagId: this.input.dag.catalogId,
      repo: this.input.dag.origin.repo,
      commit: this.input.dag.origin.commit,
      state: this.state,
      startedAt: this.startedAt,
      ...(this.endedAt ? { endedAt: this.endedAt } : {}),
      params: maskSecretParams(this.input.dag.params, this.input.params),
      progress: { done: tasks.filter((task) => isTerminal(task.state)).length, total: tasks.length },
      tasks,
      ...(this.reason ? { reason: this.reason } : {}),
      ...this.waitingForHost(),
      ...(this.windowOpensAt ? { waitingForWindow: this.windowOpensAt } : {}),
      ...this.controls.statusFields(),
    };
  }

  async execute(): Promise<DagRunStatus> {
    this.publish();
    const scope = new wf.CancellationScope();
    this.controls.onAbort((reason) => {
      this.reason ??= reason;
      scope.cancel();
    });
    if (this.input.dag.timeoutMs) {
      const limitMs = this.input.dag.timeoutMs;
      wf.sleep(limitMs).then(
        () => {
          this.reason ??= `run timed out after ${limitMs}ms`;
          scope.cancel();
        },
        () => undefined,
      );
    }
    let cancellation: unknown;
    try {
      await scope.run(async () => {
        await this.waitForWindow();
        await this.holdHostsKnownAtStart();
        await this.schedule();
      });
    } catch (error) {
      if (!wf.isCancellation(error)) throw error;
      cancellation = error;
      this.cancelled = true;
      this.reason ??= 'cancelled';
    }
    if (this.cancelled) {
      // Let cancelled activities finish killing their processes, then run `always` tasks as clean-up.
      await wf.CancellationScope.nonCancellable(async () => {
        await wf.condition(() => this.inFlight === 0);
        await this.schedule();
      });
    }
    await this.controls.afterRun([...this.statuses.values()]);
    // Compensations ran on the hosts above; only now may another run have them.
    await wf.CancellationScope.nonCancellable(() => this.locks.releaseAll());
    return this.finish(cancellation);
  }

  private waitingForHost(): { waitingForHost?: { host: string; heldBy?: string; since?: string } } {
    const wait = this.locks.waiting();
    return wait ? { waitingForHost: wait } : {};
  }

  /** Waits until the DAG's maintenance window is open (no commands at all for a DAG without one). */
  private async waitForWindow(): Promise<void> {
    const window = this.input.dag.maintenanceWindow;
    if (!window) return;
    for (let state = nextWindow(window, Date.now()); !state.open; state = nextWindow(window, Date.now())) {
      const opensAt = state.opensAt ?? Date.now();
      this.windowOpensAt = new Date(opensAt).toISOString();
      this.publish();
      await wf.sleep(Math.max(1, opensAt - Date.now()));
    }
    this.windowOpensAt = undefined;
    this.changed = true;
  }

  /** Takes the hosts whose runsOn renders from params alone, in name order, before any task starts. */
  private async holdHostsKnownAtStart(): Promise<void> {
    if (this.input.dag.hosts?.exclusive === false || !wf.patched(HOST_LOCK)) return;
    this.hostLocks = this.locks;
    const scope = { params: this.input.params, run: this.expressionScope().run };
    const hosts = new Set<string>();
    for (const task of this.input.dag.tasks) {
      if (!task.runsOn || RENDERED_LATE.test(task.runsOn)) continue;
      const host = renderValue(task.runsOn, scope);
      if (typeof host === 'string' && host !== '' && host !== this.input.taskQueue) hosts.add(host);
    }
    await this.hostLocks.acquire(hosts);
  }

  private finish(cancellation: unknown): DagRunStatus {
    const tasks = [...this.statuses.values()];
    // A task cancelled while the run was not (e.g. its child run cancelled in the UI) did not do its work:
    // the run fails, as the trigger rules already treat it. Patched: runs recorded before ended `succeeded`.
    const cancelledAlone = !this.cancelled && tasks.some((task) => task.state === 'cancelled') && wf.patched(CANCELLED_TASK_FAILS_RUN);
    const failed = tasks.filter((task) => task.state === 'failed' || (cancelledAlone && task.state === 'cancelled'));
    this.state = this.cancelled ? 'cancelled' : failed.length > 0 ? 'failed' : 'succeeded';
    this.endedAt = new Date().toISOString();
    this.publish();
    const status = this.status();
    wf.upsertMemo({ status: { state: status.state, endedAt: status.endedAt, reason: status.reason, tasks: tasks.map(({ outputs: _o, items: _i, ...rest }) => rest) } });
    if (this.state === 'cancelled' && this.reason === 'cancelled') throw cancellation;
    if (this.state !== 'succeeded') {
      const first = failed[0];
      const message = first
        ? `DAG run failed: task "${first.id}" ${first.error ? `(${failureName(first.error)}: ${first.error.message})` : ''}${failed.length > 1 ? ` and ${failed.length - 1} more` : ''}`
        : `DAG run ended: ${this.reason ?? this.state}`;
      throw wf.ApplicationFailure.create({ type: (this.state === 'failed' ? 'DagRunFailed' : 'DagRunTimedOut') satisfies TaskFailureType, message, nonRetryable: true, details: [status] });
    }
    return status;
  }

  private publish(): void {
    wf.setCurrentDetails(this.progressText());
    const last = wf.workflowInfo().typedSearchAttributes.get(STATUS_KEY);
    if (last !== this.state) wf.upsertSearchAttributes([{ key: STATUS_KEY, value: this.state }]);
  }

  private update(id: string, patch: Partial<TaskStatus>): void {
    const current = this.statuses.get(id);
    if (!current) return;
    const next = { ...current, ...patch };
    this.statuses.set(id, next);
    this.scopeEntries.set(id, scopeEntry(next));
    if (next.state !== current.state) {
      this.stateCounts.set(current.state, (this.stateCounts.get(current.state) ?? 1) - 1);
      this.stateCounts.set(next.state, (this.stateCounts.get(next.state) ?? 0) + 1);
      const index = this.indexOf.get(id);
      if (index !== undefined && isTerminal(next.state) !== isTerminal(current.state)) this.ready.setFinished(index, isTerminal(next.state));
    }
    this.changed = true;
  }

  /** The Web UI's progress text from running counts and the first rows: no walk over every task. */
  private progressText(): string {
    const total = this.statuses.size;
    let done = 0;
    for (const [state, count] of this.stateCounts) if (isTerminal(state)) done += count;
    const wait = this.locks.waiting();
    return describeProgressView({
      dagId: this.input.dag.catalogId,
      state: this.state,
      done,
      total,
      counts: this.stateCounts,
      firstTasks: (count) => this.input.dag.tasks.slice(0, count).map((task) => this.statuses.get(task.id)).filter((task) => task !== undefined),
      ...(this.windowOpensAt ? { waitingForWindow: this.windowOpensAt } : {}),
      ...(wait ? { waitingForHost: wait } : {}),
    });
  }

  private async schedule(): Promise<void> {
    this.leanTasks ??= wf.patched(LEAN_TASK_PATH);
    for (;;) {
      this.launchReady();
      wf.setCurrentDetails(this.progressText());
      if (this.ready.allFinished) return;
      await wf.condition(() => this.changed);
      this.changed = false;
    }
  }

  /** Decides the tasks whose upstreams have all finished, in DAG order (the order their commands were always made in). */
  private launchReady(): void {
    this.ready.pass((index) => {
      const task = this.input.dag.tasks[index];
      if (!task) return;
      const status = this.statuses.get(task.id);
      if (status?.state !== 'pending' || this.launched.has(task.id)) return;
      const upstreams = task.needs.map((id) => ({ id, state: this.statuses.get(id)?.state ?? 'pending' }));
      if (!upstreams.every((upstream) => isTerminal(upstream.state))) return;
      const decision = decideTrigger(task.trigger, upstreams, this.cancelled);
      if (!decision.run) {
        this.update(task.id, { state: decision.state, reason: decision.reason });
        return;
      }
      this.launched.add(task.id);
      this.inFlight += 1;
      const settled = (): void => {
        this.inFlight -= 1;
        this.changed = true;
      };
      // Neither path rejects: a task's errors end in its status.
      if (this.leanTasks) void this.runTaskLean(task).then(settled, settled);
      else void this.runTask(task).finally(settled);
    });
  }

  /**
   * The roots an expression of `task` may read. `tasks` holds only the tasks its expressions name, so a
   * step costs the same at any DAG size; an expression that reads `tasks` as a whole gets every task.
   */
  private expressionScope(task?: CompiledTask, item?: { value: unknown; index: number }): Record<string, unknown> {
    const reads = task ? this.readsOf(task) : 'all';
    const tasks: Record<string, unknown> = {};
    if (reads === 'all') {
      for (const [id, entry] of this.scopeEntries) tasks[id] = entry;
    } else {
      for (const id of reads) {
        const entry = this.scopeEntries.get(id);
        if (entry) tasks[id] = entry;
      }
    }
    const { dag, runKey, params } = this.input;
    return {
      params,
      tasks,
      run: { id: this.runId, key: runKey, dag: dag.catalogId, repo: dag.origin.repo, commit: dag.origin.commit },
      ...(item ? { item: item.value, itemIndex: item.index } : {}),
    };
  }

  private readsOf(task: CompiledTask): TaskReads {
    let reads = this.reads.get(task.id);
    if (!reads) {
      reads = readsOf(task);
      this.reads.set(task.id, reads);
    }
    return reads;
  }

  /** False, with the task marked skipped, when its `when` is false; throws when the expression cannot be evaluated. */
  private whenAllows(task: CompiledTask): boolean {
    if (task.when === undefined) return true;
    const value = typeof task.when === 'boolean' ? task.when : evaluateExpression(conditionExpression(task.when).expr, this.expressionScope(task));
    if (truthy(value)) return true;
    this.update(task.id, { state: 'skipped', reason: `when is false: ${String(task.when)}` });
    return false;
  }

  /** True, with the task marked cancelled, when the run was cancelled before the task got its slot. */
  private cancelledBeforeStart(task: CompiledTask): boolean {
    if (!this.cancelled || task.trigger === 'always') return false;
    this.update(task.id, { state: 'cancelled', reason: 'run was cancelled before this task started' });
    return true;
  }

  private failedToEvaluate(task: CompiledTask, error: unknown): void {
    this.update(task.id, { state: 'failed', endedAt: new Date().toISOString(), error: expressionError(error) });
  }

  /** A task of a run recorded before LEAN_TASK_PATH: the promises between run and activity stay as they were. */
  private async runTask(task: CompiledTask): Promise<void> {
    try {
      if (!this.whenAllows(task)) return;
      if (task.forEach !== undefined) await this.runForEach(task);
      else await this.runSingle(task);
    } catch (error) {
      this.failedToEvaluate(task, error);
    }
  }

  private async runSingle(task: CompiledTask): Promise<void> {
    await this.slots.withSlot(async () => {
      if (this.cancelledBeforeStart(task)) return;
      const outcome = await this.attempt(task);
      this.update(task.id, outcome);
    });
  }

  /** A task in one async function: a free slot is taken at once, and the activity is called with no promise between. */
  private async runTaskLean(task: CompiledTask): Promise<void> {
    let holdsSlot = false;
    try {
      if (!this.whenAllows(task)) return;
      if (task.forEach !== undefined) {
        await this.runForEach(task);
        return;
      }
      if (!this.slots.tryAcquire()) await this.slots.waitForSlot();
      holdsSlot = true;
      if (this.cancelledBeforeStart(task)) return;
      this.update(task.id, await this.attempt(task));
    } catch (error) {
      this.failedToEvaluate(task, error);
    } finally {
      if (holdsSlot) this.slots.release();
    }
  }

  /** Runs the action once (Temporal retries inside) and describes the outcome as a status patch. */
  private async attempt(task: CompiledTask, item?: { value: unknown; index: number }): Promise<Partial<TaskStatus> & ItemOutcome> {
    const scope = this.expressionScope(task, item);
    let inputs: Record<string, unknown>;
    let taskQueue: string;
    try {
      inputs = renderValue(task.with, scope) as Record<string, unknown>;
      taskQueue = task.runsOn ? String(renderValue(task.runsOn, scope)) : this.input.taskQueue;
    } catch (error) {
      return { state: 'failed', attempt: 0, error: expressionError(error) };
    }
    // A host known only now is taken now; a run never runs a task on a host another run holds.
    if (this.hostLocks && taskQueue !== this.input.taskQueue && !this.hostLocks.holds(taskQueue)) await this.hostLocks.acquire([taskQueue]);
    const startedAt = new Date().toISOString();
    if (!item) this.update(task.id, { state: 'running', attempt: 1, startedAt, ...(task.runsOn ? { runsOn: taskQueue } : {}) });
    try {
      // The lean path calls an activity task's runner directly: one promise fewer per task.
      const run = this.leanTasks && task.execution.kind === 'activity' ? executeActivity : executeAction;
      const result: ExecutedAction = await run({
        task,
        inputs,
        taskQueue,
        runQueue: this.input.taskQueue,
        runId: this.runId,
        runKey: this.input.runKey,
        dag: this.input.dag,
        ...(item ? { itemIndex: item.index } : {}),
        onChildStarted: (childRunId) => {
          if (!item) this.update(task.id, { childRunId });
        },
        approvals: this.controls.approvals,
        onWaiting: () => this.update(task.id, { state: 'waiting' }),
      });
      return {
        state: 'succeeded',
        attempt: result.attempt,
        endedAt: new Date().toISOString(),
        outputs: result.outputs,
        summary: result.summary,
        ...(result.logPath ? { logPath: result.logPath } : {}),
      };
    } catch (error) {
      const taskError = toTaskError(error);
      const cancelled = wf.isCancellation(error) || taskError.type === 'Cancelled';
      const failureDetails = (error as { cause?: { details?: unknown[] } }).cause?.details?.[0];
      const endedAt = new Date().toISOString();
      // Final failure (after retries): its AI analysis starts as a separate workflow; only the start is awaited.
      if (!cancelled) await startFailureAnalysis({ runId: this.runId, dagId: this.input.dag.catalogId, taskId: task.id, action: task.action, error: taskError, ...(item ? { item: item.index } : {}) });
      return {
        state: cancelled ? 'cancelled' : 'failed',
        attempt: attemptOf(failureDetails) ?? task.retry.maximumAttempts,
        endedAt,
        error: taskError,
        ...(typeof taskError.details?.logPath === 'string' ? { logPath: taskError.details.logPath } : {}),
      };
    }
  }

  /** The queue one forEach item runs on, for its status; a template that fails to render fails the item in attempt(). */
  private itemQueue(task: CompiledTask, item: { value: unknown; index: number }): { runsOn?: string } {
    if (!task.runsOn) return {};
    try {
      return { runsOn: String(renderValue(task.runsOn, this.expressionScope(task, item))) };
    } catch {
      return {};
    }
  }

  private async runForEach(task: CompiledTask): Promise<void> {
    const source = task.forEach;
    const list = typeof source === 'string' ? evaluateExpression(conditionExpression(source).expr, this.expressionScope(task)) : renderValue(source, this.expressionScope(task));
    if (!Array.isArray(list)) throw new Error(`forEach must give a list, got ${list === null ? 'null' : typeof list}`);
    if (list.length > MAX_FOR_EACH_ITEMS) throw new Error(`forEach gave ${list.length} items; the limit is ${MAX_FOR_EACH_ITEMS}`);
    const items: ItemStatus[] = list.map((value, index) => ({ index, label: itemLabel(value), state: 'pending', attempt: 0 }));
    // runsOn may name a queue per item (`${{ item }}`): each item reports its own, the task one only if all agree.
    this.update(task.id, { state: 'running', attempt: 1, startedAt: new Date().toISOString(), items });
    const setItem = (index: number, patch: Partial<ItemStatus>): void => {
      const current = this.statuses.get(task.id)?.items ?? items;
      this.update(task.id, { items: current.map((entry) => (entry.index === index ? { ...entry, ...patch } : entry)) });
    };
    await Promise.all(
      list.map((value, index) =>
        this.slots.withSlot(async () => {
          if (this.cancelled && task.trigger !== 'always') {
            setItem(index, { state: 'cancelled' });
            return;
          }
          setItem(index, { state: 'running', attempt: 1, ...this.itemQueue(task, { value, index }) });
          const outcome = await this.attempt(task, { value, index });
          setItem(index, {
            state: outcome.state ?? 'failed',
            attempt: outcome.attempt ?? 1,
            ...(outcome.outputs ? { outputs: outcome.outputs } : {}),
            ...(outcome.error ? { error: outcome.error } : {}),
          });
        }),
      ),
    );
    const finished = this.statuses.get(task.id)?.items ?? items;
    const failed = finished.filter((entry) => entry.state === 'failed');
    const anyCancelled = finished.some((entry) => entry.state === 'cancelled');
    const queues = new Set(finished.map((entry) => entry.runsOn));
    const [sharedQueue] = queues;
    this.update(task.id, {
      ...(queues.size === 1 && sharedQueue !== undefined ? { runsOn: sharedQueue } : {}),
      state: failed.length > 0 ? 'failed' : anyCancelled ? 'cancelled' : 'succeeded',
      attempt: Math.max(1, ...finished.map((entry) => entry.attempt)),
      endedAt: new Date().toISOString(),
      outputs: { items: finished.map((entry) => entry.outputs ?? null), count: finished.length },
      summary: `${finished.length - failed.length}/${finished.length} items succeeded`,
      ...(failed[0]?.error ? { error: { ...failed[0].error, message: `item ${failed[0].index} (${failed[0].label}): ${failed[0].error.message}` } } : {}),
    });
  }
}

/** A task as the `tasks` root of an expression scope shows it. */
function scopeEntry(status: TaskStatus): Record<string, unknown> {
  return { state: status.state, outputs: status.outputs ?? {}, error: status.error ?? null, attempt: status.attempt, items: status.items ?? [] };
}

type ItemOutcome = Partial<Pick<ItemStatus, 'state' | 'attempt' | 'outputs' | 'error'>>;

/** One run of a DAG: the interpreter workflow. Workflow id: `dag/<catalog id>/<run key>`. */
export async function dagRun(given: DagRunInput): Promise<DagRunStatus> {
  const scheduledKey = runKeyFromWorkflowId(wf.workflowInfo().workflowId, given.dag.catalogId, given.runKey);
  const input = scheduledKey !== undefined && wf.patched(SCHEDULED_RUN_KEY) ? { ...given, runKey: scheduledKey } : given;
  const runner = new DagRunner(input);
  wf.setHandler(statusQuery, () => runner.status());
  runner.controls.register();
  try {
    const status = await runner.execute();
    await runner.controls.notifyEnd(status);
    return status;
  } catch (error) {
    await runner.controls.notifyEnd(runner.status());
    throw error;
  }
}
