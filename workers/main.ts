// The worker's entry module, the only part of workers/ the CLI reaches: the main worker (workflows and
// activities of a task queue) and the audit log's worker.
export { createQubinodeWorker, type QubinodeWorkerOptions, type RunningWorker } from './qubinode-worker';
export { createAuditWorker, type AuditWorker } from './audit-worker';
