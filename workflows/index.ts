export { dagRun } from './dag-run';
export { rollout } from './rollout';
export { dagRollback } from './rollback-run';
export { analyzeFailure } from './analyze-failure';
export { repoPoll, repoSync } from './repo-sync';
export { identityStore } from './identity';
export { auditLog } from './audit-log';
export { taskLogRead } from './task-log-read';
export { repoPolicyStore } from './repo-policy';
