import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statfsSync } from 'node:fs';
import os from 'node:os';
import { promisify } from 'node:util';
import type { DiagProcessInfoInput, DiagResourceUsageInput, DiagServiceStatusInput } from '../../dag-repos/actions/diag-input';
import { osFactsFrom } from '../../plugins/os/os-release';

const run = promisify(execFile);

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

export function systemInfo(): Record<string, unknown> {
  const release = read('/etc/os-release');
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    os: release === undefined ? null : osFactsFrom(release),
    kernel: os.release(),
    arch: os.arch() === 'x64' ? 'x86_64' : os.arch(),
    cpuModel: cpus[0]?.model ?? null,
    cpuCount: cpus.length,
    memoryTotalMiB: Math.round(os.totalmem() / 2 ** 20),
    uptimeSeconds: Math.round(os.uptime()),
  };
}

/** MemAvailable is what the kernel says can be used without swapping; `os.freemem()` under-reports it. */
function meminfo(): Record<string, number> {
  const fields: Record<string, number> = {};
  for (const line of (read('/proc/meminfo') ?? '').split('\n')) {
    const match = /^(\w+):\s+(\d+) kB/.exec(line);
    if (match) fields[match[1] ?? ''] = Number(match[2]);
  }
  return fields;
}

export function resourceUsage(input: DiagResourceUsageInput): Record<string, unknown> {
  const mem = meminfo();
  const totalKiB = mem.MemTotal ?? Math.round(os.totalmem() / 1024);
  const availableKiB = mem.MemAvailable ?? Math.round(os.freemem() / 1024);
  const paths = input.paths ?? ['/', '/var/lib/libvirt/images'].filter((candidate) => existsSync(candidate));
  const disks = paths.map((where) => {
    try {
      const stats = statfsSync(where);
      const total = stats.blocks * stats.bsize;
      const free = stats.bavail * stats.bsize;
      return { path: where, totalGiB: round(total / 2 ** 30), freeGiB: round(free / 2 ** 30), usedPercent: total === 0 ? 0 : round((100 * (total - free)) / total) };
    } catch (error) {
      return { path: where, error: (error as NodeJS.ErrnoException).code ?? 'unreadable' };
    }
  });
  const [load1, load5, load15] = os.loadavg();
  return {
    load: { '1m': round(load1 ?? 0), '5m': round(load5 ?? 0), '15m': round(load15 ?? 0) },
    cpuCount: os.cpus().length,
    memory: { totalMiB: Math.round(totalKiB / 1024), availableMiB: Math.round(availableKiB / 1024), usedPercent: round((100 * (totalKiB - availableKiB)) / totalKiB) },
    swap: { totalMiB: Math.round((mem.SwapTotal ?? 0) / 1024), freeMiB: Math.round((mem.SwapFree ?? 0) / 1024) },
    disks,
  };
}

export interface ProcessRow {
  pid: number;
  name: string;
  state: string;
  rssMiB: number;
  cmdline: string;
}

/** Processes from /proc (no `ps` dependency). */
export function listProcesses(): ProcessRow[] {
  const rows: ProcessRow[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const status = read(`/proc/${entry}/status`);
    if (status === undefined) continue;
    const field = (key: string): string => new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
    const rssKiB = Number(/^(\d+)/.exec(field('VmRSS'))?.[1] ?? 0);
    const cmdline = (read(`/proc/${entry}/cmdline`) ?? '').split('\0').filter(Boolean).join(' ');
    rows.push({ pid: Number(entry), name: field('Name'), state: field('State').split(' ')[0] ?? '', rssMiB: round(rssKiB / 1024), cmdline: cmdline.slice(0, 200) });
  }
  return rows;
}

export function processInfo(input: DiagProcessInfoInput): Record<string, unknown> {
  const all = listProcesses();
  const wanted = input.names === undefined ? all : all.filter((row) => input.names?.includes(row.name));
  const top = [...wanted].sort((a, b) => b.rssMiB - a.rssMiB).slice(0, input.top);
  const missing = input.names?.filter((name) => !all.some((row) => row.name === name)) ?? [];
  return { total: all.length, matched: wanted.length, processes: top, ...(input.names === undefined ? {} : { notRunning: missing }) };
}

export interface ServiceState {
  name: string;
  active: boolean;
  state: string;
  /** systemd when it runs (systemctl is-active); otherwise a process with that name (containers, dev hosts). */
  source: 'systemd' | 'process';
}

export async function serviceStatus(input: DiagServiceStatusInput): Promise<{ services: ServiceState[]; allActive: boolean }> {
  const systemd = existsSync('/run/systemd/system');
  const processes = systemd ? [] : listProcesses();
  const services = await Promise.all(
    input.services.map(async (name): Promise<ServiceState> => {
      if (!systemd) {
        const running = processes.some((row) => row.name === name || row.name === name.replace(/\.service$/, ''));
        return { name, active: running, state: running ? 'running' : 'not running', source: 'process' };
      }
      const state = await run('systemctl', ['is-active', name], { timeout: 10_000 }).then(
        (result) => result.stdout.trim(),
        (error: { stdout?: string }) => error.stdout?.trim() || 'unknown',
      );
      return { name, active: state === 'active', state, source: 'systemd' };
    }),
  );
  return { services, allActive: services.every((service) => service.active) };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
