import type { Command } from 'commander';
import type { AuditEntry } from '../../client/audit';
import { CliError, type CliContext } from '../context';
import { table } from '../output';

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `--since`: a duration back from now (`90m`, `2h`, `7d`) or an ISO time. */
export function parseSince(value: string, now = new Date()): Date {
  const relative = /^(\d{1,6})([smhdw])$/.exec(value.trim());
  if (relative) return new Date(now.getTime() - Number(relative[1]) * (UNIT_MS[relative[2] as string] as number));
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value.trim())) {
    const at = new Date(value.trim());
    if (!Number.isNaN(at.getTime())) return at;
  }
  throw new CliError(`--since expects a duration such as 30m, 2h or 7d, or an ISO time such as 2026-11-26T10:00Z; got "${value}"`, 2);
}

function parseLimit(value: string): number {
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError(`--limit expects a whole number from 1 to 1000, got "${value}"`, 2);
  return limit;
}

function who(entry: AuditEntry): string {
  return entry.onBehalfOf ? `${entry.actor} (for ${entry.onBehalfOf})` : entry.actor;
}

export function registerAuditCommands(program: Command, context: CliContext): void {
  program
    .command('audit')
    .description('Show the audit trail: who started, cancelled, approved, aborted, rolled back, retried, changed repos and tokens, newest first')
    .option('--since <when>', 'only entries since a duration ago (30m, 2h, 7d) or an ISO time (default: 31 days)')
    .option('--user <name>', 'only entries by this user, or done for them')
    .option('--action <name>', 'only this action (run.start), or a family ending in a dot (run.)')
    .option('--limit <n>', 'at most this many entries (1-1000)', parseLimit, 100)
    .option('--json', 'print as JSON')
    .action(async (options: { since?: string; user?: string; action?: string; limit: number; json?: boolean }) => {
      const since = options.since !== undefined ? parseSince(options.since) : undefined;
      const { entries, dropped } = await context.backend().audit({
        ...(since ? { since } : {}),
        ...(options.user ? { user: options.user } : {}),
        ...(options.action ? { action: options.action } : {}),
        limit: options.limit,
      });
      for (const full of dropped) console.error(`qubinode: audit log ${full.shard} was full and dropped ${full.count} entries`);
      if (options.json) console.log(JSON.stringify(entries, null, 2));
      else if (entries.length === 0) console.log('no audit entries');
      else console.log(table(['AT', 'WHO', 'VIA', 'ACTION', 'TARGET', 'OUTCOME', 'DETAIL'], entries.map((entry) => [entry.at, who(entry), entry.via, entry.action, entry.target, entry.outcome, entry.detail ?? ''])));
    });
}
