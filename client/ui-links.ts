import type { TemporalSettings } from '../config/config';

/** Link to a run in the Temporal Web UI. */
export function runUrl(settings: TemporalSettings, workflowId: string): string {
  return `${settings.uiUrl.replace(/\/$/, '')}/namespaces/${encodeURIComponent(settings.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
