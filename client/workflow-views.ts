// The workflows' vocabulary that the CLI reads and prints: run, rollback, audit and identity shapes and
// the failure facts of a run. The CLI reaches workflows/ only through the client (shared/DESIGN.md).
export { failureName, TASK_STATES, TASK_STATE_ICON, type DagRunStatus, type TaskState, type TaskStatus } from '../workflows/run-status';
export type { ApprovalRecord, RollbackRecord, RolloutProgress } from '../workflows/rollback-status';
export { AuditEntry, actorText } from '../workflows/audit-entry';
export { TokenRecord, UserRecord } from '../workflows/identity-types';
export { factsOf } from '../workflows/failure-facts';
