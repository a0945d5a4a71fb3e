import type { FactContext } from '../../plugins/plugin-api';

/**
 * What a hypervisor bootstrap branches on beyond the OS: the security module that labels a storage
 * pool, the init system that starts libvirtd, and whether NetworkManager owns the network.
 */
export interface HostFeatures {
  selinux: 'enforcing' | 'permissive' | 'disabled';
  apparmor: boolean;
  /** systemd as PID 1 (sd_booted: /run/systemd/system exists); otherwise daemons are started directly. */
  systemd: boolean;
  networkManager: boolean;
}

/** Reads the features under ctx.root ("/" for this host, a fixture directory in tests). */
export function hostFeatures(ctx: FactContext, runningProcesses: readonly string[]): HostFeatures {
  const enforce = ctx.readFile('sys/fs/selinux/enforce')?.trim();
  const selinux = enforce === '1' ? 'enforcing' : enforce === '0' ? 'permissive' : 'disabled';
  const apparmor = ctx.readFile('sys/module/apparmor/parameters/enabled')?.trim() === 'Y';
  const systemd = ctx.listDir('run/systemd/system').length > 0 || ctx.readFile('proc/1/comm')?.trim() === 'systemd';
  const networkManager = runningProcesses.includes('NetworkManager');
  return { selinux, apparmor, systemd, networkManager };
}
