import { stripAnsi } from '../process/tool-process';

/** A VM as kcli reports it, reduced to what DAGs use. */
export interface KcliVm {
  name: string;
  /** kcli status: "up", "down", ... */
  state: string;
  running: boolean;
  /** First IP address, when the guest has one. */
  ip: string | null;
  ips: string[];
  image: string | null;
  plan: string | null;
  profile: string | null;
  memoryMiB: number | null;
  cpus: number | null;
  nets: { device: string; net: string; mac: string }[];
  disks: { device: string; sizeGiB: number; path: string }[];
}

/** `kcli ... -o json` prints JSON, possibly after coloured status lines: take the JSON document. */
export function parseKcliJson(stdout: string): unknown {
  const text = stripAnsi(stdout);
  const start = text.search(/^[[{]/m);
  if (start < 0) return undefined;
  try {
    return JSON.parse(text.slice(start)) as unknown;
  } catch {
    // Trailing coloured lines after the document: cut at the last closing bracket.
    const end = Math.max(text.lastIndexOf(']'), text.lastIndexOf('}'));
    try {
      return JSON.parse(text.slice(start, end + 1)) as unknown;
    } catch {
      return undefined;
    }
  }
}

const str = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
const num = (value: unknown): number | null => (typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : null);

export function normaliseVm(raw: unknown): KcliVm | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const vm = raw as Record<string, unknown>;
  const name = str(vm.name);
  if (name === null) return undefined;
  const ips = [vm.ip, ...(Array.isArray(vm.ips) ? vm.ips : [])].filter((ip): ip is string => typeof ip === 'string' && ip !== '');
  const state = str(vm.status) ?? 'unknown';
  return {
    name,
    state,
    running: state === 'up',
    ip: ips[0] ?? null,
    ips: [...new Set(ips)],
    image: str(vm.image),
    plan: str(vm.plan),
    profile: str(vm.profile),
    memoryMiB: num(vm.memory),
    cpus: num(vm.numcpus),
    nets: (Array.isArray(vm.nets) ? vm.nets : []).map((net) => {
      const entry = net as Record<string, unknown>;
      return { device: str(entry.device) ?? '', net: str(entry.net) ?? '', mac: str(entry.mac) ?? '' };
    }),
    disks: (Array.isArray(vm.disks) ? vm.disks : []).map((disk) => {
      const entry = disk as Record<string, unknown>;
      return { device: str(entry.device) ?? '', sizeGiB: num(entry.size) ?? 0, path: str(entry.path) ?? '' };
    }),
  };
}

/** Names from `kcli list network|pool -o json`: networks come as an object keyed by name, pools as a list. */
export function namesOf(listing: unknown): string[] {
  if (Array.isArray(listing)) return listing.map((item) => (typeof item === 'string' ? item : str((item as Record<string, unknown>).name) ?? '')).filter(Boolean);
  if (listing !== null && typeof listing === 'object') return Object.keys(listing);
  return [];
}

/** `kcli list plan -o json`: [[plan, "vm1,vm2"], ...]. */
export function plansOf(listing: unknown): { plan: string; vms: string[] }[] {
  if (!Array.isArray(listing)) return [];
  return listing
    .filter((row): row is unknown[] => Array.isArray(row))
    .map((row) => ({ plan: String(row[0] ?? ''), vms: String(row[1] ?? '').split(',').filter(Boolean) }));
}

/** The last red/plain message kcli printed, for failure messages. */
export function kcliMessage(stdout: string, stderr: string): string {
  const lines = stripAnsi(`${stdout}\n${stderr}`)
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('Traceback') && line !== '…');
  return lines.at(-1)?.slice(0, 300) ?? 'no output';
}
