import * as wf from '@temporalio/workflow';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import { abortSignal, actorText, ApprovalGates, childWaitingSignal } from './approvals';
import { rollBack } from './compensation';
import { sendNotification } from './notifications';
import type { AbortRequest, RollbackRecord } from './rollback-status';
import type { DagRunStatus, TaskStatus } from './run-status';

/** What the extensions need of a run's input (a structural subset of DagRunInput, to keep imports one-way). */
interface RunFacts {
  dag: CompiledDag;
  params: Record<string, unknown>;
  runKey: string;
  taskQueue: string;
  retryOf?: string;
}

/**
 * What people and policies do to a run around its tasks, kept out of the interpreter: approval gates,
 * abort, saga rollback, notifications, retry links. The DagRunner calls in at a few points; everything here only acts when
 * the DAG uses these features, so runs of older DAGs emit the same commands as before.
 */
export class RunControls {
  readonly approvals: ApprovalGates;
  private rollback: RollbackRecord | undefined;
  private abortRequest: AbortRequest | undefined;
  private abortHandler: ((reason: string) => void) | undefined;
  private readonly runId = wf.workflowInfo().workflowId;

  constructor(
    private readonly facts: RunFacts,
    private readonly onChange: () => void,
    private readonly onChildWaiting: (taskId: string, waiting: boolean) => void = () => undefined,
  ) {
    this.approvals = new ApprovalGates({
      onChange,
      onRequested: (record) =>
        sendNotification(facts.dag.notify, 'approval', {
          runId: this.runId,
          dagId: facts.dag.catalogId,
          state: 'waiting',
          taskId: record.taskId,
          text: `${facts.dag.catalogId}: task ${record.taskId} waits for approval${record.message ? ` — ${record.message}` : ''} (qubinode approve ${this.runId} ${record.taskId})`,
          details: { approvers: record.approvers, ...(record.timeoutAt ? { timeoutAt: record.timeoutAt } : {}) },
        }),
    });
  }

  /** Installs the update/signal handlers; once, at workflow start. */
  register(): void {
    this.approvals.register();
    wf.setHandler(childWaitingSignal, ({ taskId, waiting }) => {
      this.approvals.childWaiting(waiting);
      this.onChildWaiting(taskId, waiting);
    });
    wf.setHandler(abortSignal, (request) => {
      this.abortRequest ??= request;
      this.abortHandler?.(this.abortReason());
    });
  }

  private abortReason(): string {
    return `aborted by ${this.abortRequest ? actorText(this.abortRequest) : '?'}${this.abortRequest?.reason ? `: ${this.abortRequest.reason}` : ''}`;
  }

  /** The runner's way to stop scheduling on abort; called at once if the abort came first. */
  onAbort(handler: (reason: string) => void): void {
    this.abortHandler = handler;
    if (this.abortRequest) handler(this.abortReason());
  }

  statusFields(): Pick<DagRunStatus, 'approvals' | 'rollback' | 'retryOf'> {
    const approvals = this.approvals.list();
    return {
      ...(approvals.length ? { approvals } : {}),
      ...(this.rollback ? { rollback: this.rollback } : {}),
      ...(this.facts.retryOf ? { retryOf: this.facts.retryOf } : {}),
    };
  }

  /** After scheduling: with `rollback: auto`, a failed or aborted run undoes its completed tasks. */
  async afterRun(tasks: readonly TaskStatus[]): Promise<void> {
    if (this.facts.dag.rollback !== 'auto') return;
    const failed = tasks.filter((task) => task.state === 'failed');
    if (failed.length === 0 && !this.abortRequest) return;
    const trigger = this.abortRequest ? 'manual-abort' : 'task-failure';
    const reason = this.abortRequest ? this.abortReason() : `task ${failed.map((task) => task.id).join(', ')} failed`;
    const { dag, params, runKey, taskQueue } = this.facts;
    await rollBack({ dag, tasks, params, taskQueue, runId: this.runId, runKey }, { mode: 'auto', trigger, reason }, (record) => {
      this.rollback = record;
      this.onChange();
    });
    wf.upsertMemo({ rollback: this.rollback });
  }

  /** Reports the run's end to the DAG's notify channels (never throws). */
  async notifyEnd(status: DagRunStatus): Promise<void> {
    const event = status.state === 'succeeded' ? 'success' : 'failure';
    const failed = status.tasks.filter((task) => task.state === 'failed').map((task) => task.id);
    await sendNotification(this.facts.dag.notify, event, {
      runId: status.runId,
      dagId: status.dagId,
      state: status.state,
      text: `${status.dagId}: run ${status.state}${failed.length ? ` (failed: ${failed.join(', ')})` : ''}${status.reason ? ` — ${status.reason}` : ''}${status.rollback ? `; rollback ${status.rollback.state}` : ''}`,
      details: { runKey: status.runKey, commit: status.commit, ...(status.rollback ? { rollback: status.rollback.state, trigger: status.rollback.trigger } : {}) },
    });
  }
}
