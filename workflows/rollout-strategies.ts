/** Pure planning of a rollout: which targets go in which batch, how many at once, when to halt. */

export type RolloutStrategy = 'canary' | 'blue-green' | 'rolling' | 'all-at-once';

export interface RolloutTargetRef {
  name: string;
  queue: string;
}

export function normaliseTargets(raw: readonly (string | { name: string; queue?: string | undefined })[]): RolloutTargetRef[] {
  const targets = raw.map((entry) => (typeof entry === 'string' ? { name: entry, queue: entry } : { name: entry.name, queue: entry.queue ?? entry.name }));
  const seen = new Set<string>();
  for (const target of targets) {
    if (seen.has(target.name)) throw new Error(`target "${target.name}" is listed twice`);
    seen.add(target.name);
  }
  return targets;
}

/** A count, or a share of `total` ("25%" rounds up so a non-zero share is at least one target). */
export function countOf(value: number | string, total: number): number {
  if (typeof value === 'number') return value;
  const percent = Number.parseInt(value, 10);
  return Math.ceil((percent / 100) * total);
}

export interface BatchOptions {
  steps?: readonly (number | string)[] | undefined;
  batchSize: number | string;
}

/**
 * Batches in order. canary: `steps` are cumulative (1, 25%, 100%) and a last step to 100% is implied;
 * rolling: fixed-size batches; blue-green and all-at-once: one batch of every target.
 */
export function planBatches(strategy: RolloutStrategy, targets: readonly RolloutTargetRef[], options: BatchOptions): RolloutTargetRef[][] {
  const total = targets.length;
  switch (strategy) {
    case 'all-at-once':
    case 'blue-green':
      return [[...targets]];
    case 'rolling': {
      const size = Math.max(1, countOf(options.batchSize, total));
      const batches: RolloutTargetRef[][] = [];
      for (let start = 0; start < total; start += size) batches.push(targets.slice(start, start + size));
      return batches;
    }
    case 'canary': {
      const steps = options.steps ?? [1, '100%'];
      const batches: RolloutTargetRef[][] = [];
      let done = 0;
      for (const step of [...steps, '100%']) {
        const upTo = Math.min(total, Math.max(done, countOf(step, total)));
        if (upTo > done) batches.push(targets.slice(done, upTo));
        done = upTo;
      }
      return batches;
    }
    default: {
      const never: never = strategy;
      throw new Error(`unknown strategy ${String(never)}`);
    }
  }
}

/** How many targets of one batch change at once: rolling honours maxUnavailable, the others change the whole batch. */
export function batchConcurrency(strategy: RolloutStrategy, batchLength: number, maxUnavailable: number | string, total: number): number {
  if (strategy !== 'rolling') return Math.max(1, batchLength);
  return Math.max(1, Math.min(batchLength, countOf(maxUnavailable, total)));
}

/** True when `failed` targets exceed the tolerated count, or share of `total` (a share rounds down: 10% of 4 tolerates none). */
export function overThreshold(failed: number, threshold: number | string, total: number): boolean {
  const tolerated = typeof threshold === 'number' ? threshold : Math.floor((Number.parseInt(threshold, 10) / 100) * total);
  return failed > tolerated;
}

/** True when more than `maxRate` ("20%") of one batch failed. */
export function overErrorRate(failed: number, batchLength: number, maxRate: string | undefined): boolean {
  if (maxRate === undefined || batchLength === 0) return false;
  return failed / batchLength > Number.parseInt(maxRate, 10) / 100;
}

/** What the analysis reads out of a check's outputs: `path` is dotted ("load.load1", "disks.0.used"). */
export function thresholdProblems(outputs: Record<string, unknown>, thresholds: Record<string, { min?: number | undefined; max?: number | undefined; equals?: unknown }> | undefined): string[] {
  const problems: string[] = [];
  for (const [path, limit] of Object.entries(thresholds ?? {})) {
    const value = path.split('.').reduce<unknown>((current, key) => (current !== null && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined), outputs);
    if (limit.equals !== undefined) {
      if (value !== limit.equals) problems.push(`${path} is ${JSON.stringify(value)}, expected ${JSON.stringify(limit.equals)}`);
      continue;
    }
    const number = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
    if (Number.isNaN(number)) problems.push(`${path} is ${JSON.stringify(value)}, not a number`);
    else if (limit.min !== undefined && number < limit.min) problems.push(`${path} is ${number}, below ${limit.min}`);
    else if (limit.max !== undefined && number > limit.max) problems.push(`${path} is ${number}, above ${limit.max}`);
  }
  return problems;
}
