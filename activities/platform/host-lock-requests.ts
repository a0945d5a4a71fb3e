import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';

/** What a run sends to a host's lock workflow to ask for the host. */
export interface HostLockRequestInput {
  lockWorkflowId: string;
  host: string;
  controlQueue: string;
  request: { requester: string; root: string; at: string };
}

/**
 * The two things the host lock needs from outside workflow code: starting a host's lock workflow with a
 * request (a workflow cannot signal-with-start), and telling which holders still run.
 */
export function createHostLockActivities(deps: { client: () => Promise<Client> }) {
  return {
    async requestHostLock(input: HostLockRequestInput): Promise<void> {
      const client = await deps.client();
      await client.workflow.signalWithStart('hostLock', {
        workflowId: input.lockWorkflowId,
        taskQueue: input.controlQueue,
        args: [{ host: input.host, controlQueue: input.controlQueue }],
        signal: 'acquireHost',
        signalArgs: [input.request],
        staticSummary: `one job at a time on host ${input.host}`,
      });
    },

    /** The ones of `workflowIds` that are still running; a workflow that cannot be found is not. */
    async openWorkflows(input: { workflowIds: string[] }): Promise<string[]> {
      const client = await deps.client();
      const open: string[] = [];
      for (const workflowId of input.workflowIds.slice(0, 1000)) {
        try {
          const description = await client.workflow.getHandle(workflowId).describe();
          if (description.status.name === 'RUNNING') open.push(workflowId);
        } catch (error) {
          if (!(error instanceof WorkflowNotFoundError)) throw error;
        }
      }
      return open;
    },
  };
}

export type HostLockActivities = ReturnType<typeof createHostLockActivities>;
