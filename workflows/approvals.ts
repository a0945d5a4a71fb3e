import * as wf from '@temporalio/workflow';
import type { TaskFailureType } from '../dag-repos/actions/failure-types';
import { actorText, isPlainName } from './audit-entry';
import type { AbortRequest, ApprovalRecord } from './rollback-status';
import { STATUS_KEY } from './search-attributes';

/** A decision sent to a waiting approval gate. */
export interface ApprovalDecision {
  /** The approval task (or the rollout task whose step waits). */
  taskId: string;
  approve: boolean;
  /** Who decides: the authenticated caller, never a name the caller claims. */
  by: string;
  /**
   * The approver `by` acts for (only admins may; the API and CLI check that before sending). The
   * gate's approvers are checked against this person when set, else against `by`.
   */
  onBehalfOf?: string;
  /** Required to reject. */
  comment?: string;
}

/** The Update clients use (CLI, API): refused by the validator unless allowed; returns the decided record. */
export const approveUpdate = wf.defineUpdate<ApprovalRecord, [ApprovalDecision]>('approve');
/** The same decision as a signal, for the Temporal Web UI's "Send a signal"; invalid ones are logged and ignored. */
export const approvalSignal = wf.defineSignal<[ApprovalDecision]>('approval');
/** A rollout child tells its parent run that one of its step gates opened or closed, so the parent shows as waiting too. */
export const childWaitingSignal = wf.defineSignal<[{ taskId: string; waiting: boolean }]>('childWaiting');

/** Stop a run (or a rollout) and roll back what it changed: `qubinode abort RUN`. */
export const abortSignal = wf.defineSignal<[AbortRequest]>('abort');

export interface GateOptions {
  message?: string;
  approvers: string[];
  timeoutMs?: number;
  onTimeout: 'approve' | 'reject';
}

export { actorText };

export const APPROVAL_REFUSED = 'ApprovalRefused';
/** Patch id: approval decisions refuse names with hidden characters and may act for someone (onBehalfOf). */
const IDENTITY_CHECKS_PATCH = 'approval-identity-checks';
export const APPROVAL_REJECTED = 'ApprovalRejected' satisfies TaskFailureType;

/**
 * The approval gates of one workflow. A gate opens when an approval task starts and closes on a
 * decision or its timeout; while any gate is open the run's QubinodeStatus search attribute is
 * `waiting`, so `qubinode runs --waiting` finds it.
 */
export class ApprovalGates {
  private readonly records = new Map<string, ApprovalRecord>();
  private open = 0;

  constructor(private readonly hooks: { onChange: () => void; onRequested?: (record: ApprovalRecord) => Promise<void>; onOpen?: (taskId: string, waiting: boolean) => Promise<void> }) {}

  /** A gate held by a child workflow (a rollout step gate) counts as open here too. */
  childWaiting(waiting: boolean): void {
    this.setOpen(waiting ? +1 : -1);
  }

  /** Installs the update and signal handlers; call once, at workflow start. */
  register(): void {
    wf.setHandler(approveUpdate, (decision) => this.decide(decision), { validator: (decision) => this.validate(decision) });
    wf.setHandler(approvalSignal, (decision) => {
      try {
        // Signals replay from history: a run that took a signal before names were checked and
        // onBehalfOf existed decides it as it did then.
        const current = wf.patched(IDENTITY_CHECKS_PATCH);
        const { onBehalfOf: _ignored, ...legacy } = decision ?? ({} as ApprovalDecision);
        const checked = current ? decision : legacy;
        this.validate(checked, current);
        this.decide(checked);
      } catch (error) {
        wf.log.warn('approval signal ignored', { taskId: decision?.taskId, error: (error as Error).message });
      }
    });
  }

  list(): ApprovalRecord[] {
    return [...this.records.values()];
  }

  private validate(decision: ApprovalDecision, checkNames = true): void {
    const record = this.records.get(decision?.taskId);
    if (!record) throw wf.ApplicationFailure.nonRetryable(`task "${String(decision?.taskId)}" has no approval gate in this run`, APPROVAL_REFUSED);
    if (record.state !== 'waiting') throw wf.ApplicationFailure.nonRetryable(`task "${record.taskId}" was already ${record.state} by ${record.by ?? '?'}`, APPROVAL_REFUSED);
    if (typeof decision.by !== 'string' || decision.by.trim() === '' || (checkNames && !isPlainName(decision.by))) throw wf.ApplicationFailure.nonRetryable('the decision must say who decides (by), as a plain one-line name', APPROVAL_REFUSED);
    if (decision.onBehalfOf !== undefined && checkNames && !isPlainName(decision.onBehalfOf)) throw wf.ApplicationFailure.nonRetryable('onBehalfOf must be a plain one-line name', APPROVAL_REFUSED);
    const approver = decision.onBehalfOf ?? decision.by;
    // The refusal never lists the approvers: who may approve is not for whoever asks to know.
    if (record.approvers.length > 0 && !record.approvers.includes(approver)) throw wf.ApplicationFailure.nonRetryable(`"${approver}" is not an approver of task "${record.taskId}"`, APPROVAL_REFUSED);
    if (!decision.approve && !decision.comment?.trim()) throw wf.ApplicationFailure.nonRetryable(`rejecting task "${record.taskId}" needs a comment saying why`, APPROVAL_REFUSED);
  }

  private decide(decision: ApprovalDecision): ApprovalRecord {
    const record = this.records.get(decision.taskId) as ApprovalRecord;
    const decided: ApprovalRecord = {
      ...record,
      state: decision.approve ? 'approved' : 'rejected',
      by: decision.by,
      ...(decision.onBehalfOf !== undefined && decision.onBehalfOf !== decision.by ? { onBehalfOf: decision.onBehalfOf } : {}),
      decidedAt: new Date().toISOString(),
      ...(decision.comment?.trim() ? { comment: decision.comment.trim() } : {}),
    };
    this.records.set(record.taskId, decided);
    this.hooks.onChange();
    return decided;
  }

  /** Opens a gate for `taskId` and waits for its decision (or timeout). */
  async wait(taskId: string, options: GateOptions): Promise<ApprovalRecord> {
    const requestedAt = new Date();
    const record: ApprovalRecord = {
      taskId,
      state: 'waiting',
      ...(options.message ? { message: options.message } : {}),
      approvers: options.approvers,
      requestedAt: requestedAt.toISOString(),
      ...(options.timeoutMs ? { timeoutAt: new Date(requestedAt.getTime() + options.timeoutMs).toISOString(), onTimeout: options.onTimeout } : {}),
    };
    this.records.set(taskId, record);
    this.setOpen(+1);
    await this.hooks.onOpen?.(taskId, true);
    this.hooks.onChange();
    if (this.hooks.onRequested) await this.hooks.onRequested(record);
    const decided = () => this.records.get(taskId)?.state !== 'waiting';
    let inTime: boolean;
    try {
      inTime = options.timeoutMs ? await wf.condition(decided, options.timeoutMs) : (await wf.condition(decided), true);
    } catch (error) {
      // Cancelled while waiting (abort, run cancelled): the gate closes undecided, and the run stops showing as waiting.
      await wf.CancellationScope.nonCancellable(async () => {
        this.setOpen(-1);
        await this.hooks.onOpen?.(taskId, false);
      });
      throw error;
    }
    if (!inTime) {
      this.records.set(taskId, {
        ...record,
        state: options.onTimeout === 'approve' ? 'approved' : 'rejected',
        by: 'timeout',
        decidedAt: new Date().toISOString(),
        timedOut: true,
        comment: `no decision within ${options.timeoutMs}ms; default outcome ${options.onTimeout}`,
      });
    }
    this.setOpen(-1);
    await this.hooks.onOpen?.(taskId, false);
    wf.upsertMemo({ approvals: this.list() });
    this.hooks.onChange();
    return this.records.get(taskId) as ApprovalRecord;
  }

  private setOpen(delta: number): void {
    this.open += delta;
    const wanted = this.open > 0 ? 'waiting' : 'running';
    if (wf.workflowInfo().typedSearchAttributes.get(STATUS_KEY) !== wanted) wf.upsertSearchAttributes([{ key: STATUS_KEY, value: wanted }]);
  }
}

/** What an approval task returns or throws, given its gate's decision. */
export function approvalOutcome(record: ApprovalRecord): { outputs: Record<string, unknown>; summary: string } {
  const facts = { approved: record.state === 'approved', by: record.by ?? '', ...(record.onBehalfOf ? { onBehalfOf: record.onBehalfOf } : {}), decidedAt: record.decidedAt ?? '', comment: record.comment ?? '', timedOut: record.timedOut ?? false };
  const who = actorText({ by: record.by ?? '?', ...(record.onBehalfOf ? { onBehalfOf: record.onBehalfOf } : {}) });
  if (record.state === 'approved') return { outputs: facts, summary: `approved by ${who}${record.comment ? `: ${record.comment}` : ''}` };
  throw wf.ApplicationFailure.create({
    type: APPROVAL_REJECTED,
    nonRetryable: true,
    message: `rejected by ${who}${record.comment ? `: ${record.comment}` : ''}`,
    details: [facts],
  });
}
