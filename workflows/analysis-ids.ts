/** Workflow id of the AI analysis of one failed task: `ai/<run id>/<task id>[.<item index>]`. Plain: clients use it too. */
export function analysisWorkflowId(runId: string, taskId: string, item?: number): string {
  return `ai/${runId}/${taskId}${item !== undefined ? `.${item}` : ''}`;
}
