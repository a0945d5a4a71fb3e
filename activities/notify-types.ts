// Types only: workflows import this file, so it must stay free of runtime code.
import type { NotifyChannel, NotifyEvent } from '../dag-repos/schema/rollback-notify';

/** One run event for the DAG's notification channels. */
export interface NotifyRequest {
  channels: NotifyChannel[];
  event: NotifyEvent;
  runId: string;
  dagId: string;
  /** Run state, or the waiting task for approval events. */
  state: string;
  /** One line for humans. */
  text: string;
  taskId?: string;
  details?: Record<string, unknown>;
}
