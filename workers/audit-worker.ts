import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { QubinodeConfig } from '../config/config';
import { connectionOptions } from '../config/temporal-connection';
import { AUDIT_TASK_QUEUE } from '../workflows/audit-ids';
import { workflowBundle as cachedWorkflowBundle } from './workflow-bundle';

export interface AuditWorker {
  worker: Worker;
  close(): Promise<void>;
}

/**
 * The worker of the audit log's own queue: workflows only, no activities. Every process that runs
 * workflows on the main queue starts one too, so any node can record and answer audit queries.
 */
export async function createAuditWorker(config: QubinodeConfig, workflowBundle?: WorkerOptions['workflowBundle']): Promise<AuditWorker> {
  const connection = await NativeConnection.connect(connectionOptions(config.temporal));
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: AUDIT_TASK_QUEUE,
    // The bundle the main worker of this process uses (one build per process, cached on disk).
    workflowBundle: workflowBundle ?? { codePath: (await cachedWorkflowBundle({ dataDir: config.dataDir })).codePath },
    maxCachedWorkflows: Math.min(config.workflowCacheSize, 100),
    shutdownGraceTime: '5s',
    // Workers come and go (every test engine serves this queue): a log cached by a stopped worker
    // moves to another one after two seconds rather than the default ten, and queries wait less.
    stickyQueueScheduleToStartTimeout: '2s',
  });
  return { worker, close: () => connection.close() };
}
