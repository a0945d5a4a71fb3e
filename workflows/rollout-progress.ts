import type { ApprovalRecord, RolloutProgress } from './rollback-status';

/** The progress with its counts brought up to date from the targets, and the step gates as they stand. */
export function withCounts(progress: RolloutProgress, approvals: ApprovalRecord[]): RolloutProgress {
  return { ...progress, approvals, done: progress.targets.filter((t) => t.state === 'updated').length, failed: progress.targets.filter((t) => t.state === 'failed').length };
}

/** The rollout as the Temporal Web UI shows it in the workflow's details: a headline and a table of targets. */
export function rolloutDetails(progress: RolloutProgress, strategy: string): string {
  const rows = progress.targets.map((t) => `| ${t.batch} | ${t.name} | ${t.queue} | ${t.state}${t.error ? ` — ${t.error.slice(0, 80)}` : ''} |`);
  return [
    `**rollout ${strategy}** · ${progress.state}${progress.phase ? ` (${progress.phase})` : ''} · batch ${progress.batch} of ${progress.batches} · ${progress.done}/${progress.targets.length} targets done, ${progress.failed} failed`,
    ...(progress.rollback ? ['', `rollback: ${progress.rollback.trigger} — ${progress.rollback.reason}`] : []),
    '',
    '| batch | target | queue | state |',
    '|---|---|---|---|',
    ...rows,
  ].join('\n');
}
