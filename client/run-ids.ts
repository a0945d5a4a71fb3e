/** Run keys sort by start time and stay readable: `20261125-201723-k3f9`. */
export function newRunKey(now: Date = new Date(), random: () => number = Math.random): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const suffix = Math.floor(random() * 36 ** 4).toString(36).padStart(4, '0');
  return `${stamp}-${suffix}`;
}

export function runWorkflowId(catalogId: string, runKey: string): string {
  return `dag/${catalogId}/${runKey}`;
}

/** Accepts `dag/examples/hello/KEY` or `examples/hello/KEY`. */
export function normaliseRunId(ref: string): string {
  return ref.startsWith('dag/') ? ref : `dag/${ref}`;
}
