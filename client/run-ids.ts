/** Run keys sort by start time and stay readable: `20261125-201723-k3f9`. */
export function newRunKey(now: Date = new Date(), random: () => number = Math.random): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const suffix = Math.floor(random() * 36 ** 4).toString(36).padStart(4, '0');
  return `${stamp}-${suffix}`;
}

// The API and the CLI reach the engine's ids through the client (DESIGN's import table).
export { hookRunKey, isRolloutId, normaliseRunId, rolloutIdFromPath, runWorkflowId } from '../workflows/workflow-ids';
