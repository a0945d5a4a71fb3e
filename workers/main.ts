// The worker's entry module, the only part of workers/ the CLI reaches: the main worker (workflows and
// activities of a task queue), the audit log's worker, and the host's read-only diagnostics and facts,
// which `qubinode host` and `qubinode ai ask` run on this machine without a worker.
export { createQubinodeWorker } from './qubinode-worker';
export { createAuditWorker } from './audit-worker';
export { DIAG_TOOLS, localDiagnostics, localFacts, type DiagTool } from './host-info';
export { collectDiag } from '../activities/diag/diag';
