import type { Command } from 'commander';
import type { HostView } from '../../client/hosts';
import type { CliContext } from '../context';
import { table } from '../output';

function osText(host: HostView): string {
  const report = host.worker;
  if (!report) return '';
  const os = [report.os.id, report.os.versionId].filter(Boolean).join(' ');
  return [os, report.kernel, report.arch].filter(Boolean).join(' / ');
}

function labelsText(host: HostView): string {
  return Object.entries(host.worker?.labels ?? {})
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

function stateText(host: HostView): string {
  if (host.state === 'online') return 'online';
  return host.offlineSince ? `offline since ${host.offlineSince}` : 'offline';
}

/** The host list as a table, one line per host queue. */
export function hostsTable(hosts: readonly HostView[]): string {
  return table(
    ['HOST', 'ADDRESS', 'STATE', 'POLLERS', 'VERSION', 'OS', 'CPU', 'MEM', 'LABELS', 'LAST SEEN'],
    hosts.map((host) => [
      host.queue,
      host.worker?.addresses[0]?.replace(/\/\d+$/, '') ?? '',
      stateText(host),
      String(new Set(host.pollers.map((poller) => poller.identity)).size),
      host.worker?.version ?? '',
      osText(host),
      host.worker ? String(host.worker.cpuCount) : '',
      host.worker ? `${Math.round(host.worker.memoryMiB / 1024)}G` : '',
      labelsText(host),
      host.lastSeen ?? '',
    ]),
  );
}

export function registerHostsCommands(program: Command, context: CliContext): void {
  program
    .command('hosts')
    .description('List the known hosts: each host queue with its pollers now, worker version, OS facts, labels, last seen and whether it is online')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const hosts = await context.backend().hosts();
      if (options.json) console.log(JSON.stringify(hosts, null, 2));
      else if (hosts.length === 0) console.log('no known hosts: no worker has announced itself yet (start one with `qubinode worker --queue NAME`)');
      else console.log(hostsTable(hosts));
    });
}
