/**
 * An abort signal that fires after `ms` or when any of `parents` aborts.
 *
 * Why not `AbortSignal.any([AbortSignal.timeout(ms), parent])`: the composite holds its sources
 * weakly, and a timeout signal nothing else references can be garbage-collected before it fires —
 * the deadline then never comes (seen as a request hanging forever on Node 20). Here the timer and
 * the listeners are held strongly until `dispose()`.
 */
export function deadlineSignal(ms: number, reason: string, ...parents: (AbortSignal | undefined)[]): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DeadlineError(reason)), ms);
  const forwards: [AbortSignal, () => void][] = [];
  for (const parent of parents) {
    if (!parent) continue;
    if (parent.aborted) controller.abort(parent.reason);
    const forward = (): void => controller.abort(parent.reason);
    parent.addEventListener('abort', forward, { once: true });
    forwards.push([parent, forward]);
  }
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      for (const [parent, forward] of forwards) parent.removeEventListener('abort', forward);
    },
  };
}

export class DeadlineError extends Error {
  override readonly name = 'TimeoutError';
}
