import { lookup } from 'node:dns/promises';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import os from 'node:os';
import type { DiagNetworkInput } from '../../dag-repos/actions/diag-input';

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** /proc/net/route stores IPv4 addresses as little-endian hex. */
function hexToIp(hex: string): string {
  const bytes = hex.match(/../g) ?? [];
  return bytes.reverse().map((byte) => parseInt(byte, 16)).join('.');
}

function maskBits(hex: string): number {
  return (parseInt(hex, 16) >>> 0).toString(2).split('').filter((bit) => bit === '1').length;
}

export async function networkReport(input: DiagNetworkInput): Promise<Record<string, unknown>> {
  const addresses = os.networkInterfaces();
  const names = existsSync('/sys/class/net') ? readdirSync('/sys/class/net').sort() : Object.keys(addresses).sort();
  const interfaces = names.map((name) => {
    const sys = (file: string): string | undefined => read(`/sys/class/net/${name}/${file}`);
    const bridge = existsSync(`/sys/class/net/${name}/bridge`);
    return {
      name,
      state: sys('operstate') ?? 'unknown',
      mac: sys('address') ?? null,
      mtu: Number(sys('mtu') ?? 0),
      bridge,
      ...(bridge ? { members: readdirSync(`/sys/class/net/${name}/brif`).sort() } : {}),
      addresses: (addresses[name] ?? []).map((address) => address.cidr ?? address.address),
    };
  });
  const routes = (read('/proc/net/route') ?? '')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 8)
    .map((fields) => ({ interface: fields[0] ?? '', destination: `${hexToIp(fields[1] ?? '0')}/${maskBits(fields[7] ?? '0')}`, gateway: hexToIp(fields[2] ?? '0'), metric: Number(fields[6] ?? 0) }));
  const nameservers = (read('/etc/resolv.conf') ?? '')
    .split('\n')
    .map((line) => /^nameserver\s+(\S+)/.exec(line.trim())?.[1])
    .filter((server): server is string => server !== undefined);
  const resolution = await Promise.all(
    input.resolve.map(async (name) => {
      try {
        const found = await lookup(name, { all: true });
        return { name, ok: true, addresses: found.map((entry) => entry.address) };
      } catch (error) {
        return { name, ok: false, error: (error as NodeJS.ErrnoException).code ?? 'failed' };
      }
    }),
  );
  return {
    interfaces,
    bridges: interfaces.filter((item) => item.bridge).map((item) => item.name),
    routes,
    defaultGateway: routes.find((route) => route.destination === '0.0.0.0/0')?.gateway ?? null,
    dns: { nameservers, resolution },
  };
}
