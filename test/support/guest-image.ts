import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, linkSync, copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../config/config';

/** A local guest image, and libvirt objects for VMs booted from it; every name carries `prefix`. */
export interface GuestLab {
  /** Image file name: the kcli image (a volume of `pool`). */
  image: string;
  pool: string;
  /** An isolated libvirt network with DHCP: guest traffic stays on this machine. */
  network: string;
  /** Its /24, e.g. 10.241.37.0/24. */
  cidr: string;
  /** Seconds infra/build-guest-image.sh took (a cached image answers in about a second). */
  imageSeconds: number;
}

const virsh = (...args: string[]): string => execFileSync('virsh', ['-c', 'qemu:///system', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/**
 * Builds (or reuses from the machine's cache) the guest image of infra/build-guest-image.sh.
 * Returns its path, or a skip reason when it cannot be built here (exit 2: not root, no apt).
 */
export async function guestImage(): Promise<{ path: string; seconds: number } | { skip: string }> {
  const started = Date.now();
  const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile('bash', [path.join(PROJECT_ROOT, 'infra', 'build-guest-image.sh')], { timeout: 30 * 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }));
  });
  const lastLine = (text: string): string => text.trim().split('\n').at(-1) ?? '';
  if (result.code === 2) return { skip: `no guest image here: ${lastLine(result.stderr)}` };
  if (result.code !== 0) throw new Error(`infra/build-guest-image.sh exit ${result.code}: ${result.stderr.slice(-2000)}`);
  return { path: lastLine(result.stdout), seconds: Math.round((Date.now() - started) / 1000) };
}

/** The third octet of a 10.241.x.0/24 no interface of this machine is on. */
function freeSubnet(): number {
  const addresses = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' });
  for (let tries = 0; tries < 50; tries += 1) {
    const octet = 10 + Math.floor(Math.random() * 240);
    if (!addresses.includes(`10.241.${octet}.`)) return octet;
  }
  throw new Error('no free 10.241.x.0/24 on this machine');
}

/**
 * Creates a directory pool holding the image (a hard link: the pool's VMs use it as a read-only
 * backing file) and an isolated network, both named `prefix-…`. {@link removeGuestLab} undoes it.
 */
export function createGuestLab(prefix: string, dir: string, imagePath: string, imageSeconds: number): GuestLab {
  const poolDir = path.join(dir, 'pool');
  mkdirSync(poolDir, { recursive: true });
  chmodSync(poolDir, 0o755);
  const image = path.basename(imagePath);
  const target = path.join(poolDir, image);
  if (!existsSync(target)) {
    try {
      linkSync(imagePath, target);
    } catch {
      copyFileSync(imagePath, target);
    }
  }
  chmodSync(target, 0o644);
  const pool = `${prefix}-pool`;
  virsh('pool-define-as', pool, 'dir', '--target', poolDir);
  virsh('pool-start', pool);

  const octet = freeSubnet();
  const network = `${prefix}-net`;
  const xml = path.join(dir, 'network.xml');
  // No <forward>: an isolated network; the host reaches the guests on its bridge address.
  writeFileSync(xml, `<network>
  <name>${network}</name>
  <ip address="10.241.${octet}.1" netmask="255.255.255.0">
    <dhcp><range start="10.241.${octet}.10" end="10.241.${octet}.200"/></dhcp>
  </ip>
</network>
`);
  virsh('net-define', xml);
  virsh('net-start', network);
  return { image, pool, network, cidr: `10.241.${octet}.0/24`, imageSeconds };
}

/** Removes the domains named in `domains`, then the lab's network and pool; objects already gone are fine. */
export function removeGuestLab(lab: Pick<GuestLab, 'pool' | 'network'>, domains: readonly string[]): void {
  const quietly = (...args: string[]): void => {
    try {
      virsh(...args);
    } catch {
      // Already gone (the run's rollback deleted it, or it was never created).
    }
  };
  for (const domain of domains) {
    quietly('destroy', domain);
    quietly('undefine', domain, '--remove-all-storage');
  }
  quietly('net-destroy', lab.network);
  quietly('net-undefine', lab.network);
  quietly('pool-destroy', lab.pool);
  quietly('pool-undefine', lab.pool);
}

/** Names of all libvirt domains, running or not. */
export function domainNames(): string[] {
  return virsh('list', '--all', '--name').split('\n').map((line) => line.trim()).filter(Boolean);
}
