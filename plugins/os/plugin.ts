import type { HostFacts, PreflightCheck, QubinodePlugin } from '../plugin-api';
import { cpuFactsFrom, type CpuFacts } from './cpu-level';
import { osFactsFrom, pythonVersionFrom, type OsFacts } from './os-release';

/** OS plugin: os-release, package manager, Python, CPU level and virtualization flags. */
export const plugin: QubinodePlugin = {
  name: 'os',
  description: 'Operating system (os-release), package manager, Python version, x86-64 level and CPU virtualization flags',
  facts(ctx) {
    const release = ctx.readFile('etc/os-release') ?? ctx.readFile('usr/lib/os-release');
    const os: OsFacts | { id: 'unknown' } = release === undefined ? { id: 'unknown' } : osFactsFrom(release);
    const { flags: _flags, ...cpu } = cpuFactsFrom(ctx.readFile('proc/cpuinfo'));
    const python = pythonVersionFrom(ctx.listDir('usr/bin'));
    const arch = ctx.root === '/' ? process.arch.replace('x64', 'x86_64').replace('arm64', 'aarch64') : undefined;
    return { ...os, ...(python === undefined ? {} : { pythonVersion: python }), ...(arch === undefined ? {} : { arch }), cpu };
  },
  preflight(facts: HostFacts): PreflightCheck[] {
    const os = facts.os as (Partial<OsFacts> & { cpu?: CpuFacts; arch?: string }) | undefined;
    if (os === undefined || os.id === 'unknown') return [{ id: 'os.detected', ok: false, severity: 'error', message: 'cannot read etc/os-release: operating system unknown' }];
    const checks: PreflightCheck[] = [
      {
        id: 'os.supported',
        ok: os.hypervisorSupported === true,
        severity: 'error',
        message: os.hypervisorSupported
          ? `${os.name ?? os.id} is a supported hypervisor OS`
          : `${os.name ?? os.id} is not a supported hypervisor OS (use RHEL 8/9/10, Rocky, AlmaLinux, CentOS Stream 9/10, Fedora, Debian 12/13 or Ubuntu 24.04)`,
      },
    ];
    if (os.requiresX86_64V3 === true && os.arch !== 'aarch64') {
      const cpu = os.cpu;
      checks.push({
        id: 'cpu.x86_64-v3',
        ok: cpu?.x86_64V3 === true,
        severity: 'error',
        message:
          cpu?.x86_64V3 === true
            ? 'CPU supports x86_64-v3, as RHEL 10 / CentOS Stream 10 require'
            : cpu?.x86_64V3 === false
              ? `${os.name ?? os.id} needs an x86_64-v3 CPU; this one lacks ${cpu.missingForV3.join(', ')} (on a VM host, pass the host CPU model through)`
              : `${os.name ?? os.id} needs an x86_64-v3 CPU; CPU flags unreadable`,
      });
    }
    return checks;
  },
};
