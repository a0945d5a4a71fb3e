import { execFile } from 'node:child_process';
import { constants, accessSync, existsSync, readFileSync, statSync } from 'node:fs';
import { promisify } from 'node:util';
import { findTool } from '../../config/tool-paths';
import type { DiagKvmInput } from '../../dag-repos/actions/diag-input';
import { cpuFactsFrom } from '../../plugins/os/cpu-level';
import { listProcesses } from './diag-system';

const run = promisify(execFile);

export interface KvmReport {
  devKvm: { present: boolean; accessible: boolean };
  cpuVirtualization: 'vmx' | 'svm' | null;
  nested: boolean | null;
  libvirtd: { running: boolean; uri: string; reachable: boolean; error?: string };
  domains: { name: string; state: string }[];
  /**
   * How guests run here: `kvm` when /dev/kvm opens and the CPU exposes vmx/svm, `emulation` (QEMU TCG,
   * kcli/libvirt `virttype: qemu`) otherwise, with the reason in `emulationReason`.
   */
  acceleration: 'kvm' | 'emulation';
  emulationReason?: string;
  /** Empty when the host can run accelerated VMs under libvirt. */
  problems: string[];
  ready: boolean;
}

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Where the report looks; tests point it at paths that are absent or are no device. */
export interface KvmProbe {
  devKvm: string;
}

/** /dev/kvm, CPU virtualization flags, nested virtualization, libvirtd, and `virsh list --all`. */
export async function kvmReport(input: Pick<DiagKvmInput, 'libvirtUri'>, probe: KvmProbe = { devKvm: '/dev/kvm' }): Promise<KvmReport> {
  const present = existsSync(probe.devKvm);
  let accessible = false;
  try {
    // A node that is no character device (a bind-mounted file, a directory) cannot run guests either.
    if (!statSync(probe.devKvm).isCharacterDevice()) throw new Error('not a character device');
    accessSync(probe.devKvm, constants.R_OK | constants.W_OK);
    accessible = true;
  } catch {
    accessible = false;
  }
  const cpu = cpuFactsFrom(read('/proc/cpuinfo'));
  const nestedFlag = read('/sys/module/kvm_intel/parameters/nested') ?? read('/sys/module/kvm_amd/parameters/nested');
  const nested = nestedFlag === undefined ? null : ['Y', 'y', '1'].includes(nestedFlag);
  const running = listProcesses().some((row) => row.name === 'libvirtd' || row.name === 'virtqemud');
  const virsh = findTool('virsh');
  const libvirtd: KvmReport['libvirtd'] = { running, uri: input.libvirtUri, reachable: false };
  const domains: KvmReport['domains'] = [];
  if (virsh !== undefined) {
    try {
      const { stdout } = await run(virsh, ['-c', input.libvirtUri, 'list', '--all'], { timeout: 15_000 });
      libvirtd.reachable = true;
      // Rows after the header: " Id   Name   State" / "----" / " 1    vm1    running".
      for (const line of stdout.split('\n').slice(2)) {
        const match = /^\s*(\S+)\s+(\S+)\s+(.+?)\s*$/.exec(line);
        if (match) domains.push({ name: match[2] ?? '', state: match[3] ?? '' });
      }
    } catch (error) {
      libvirtd.error = ((error as { stderr?: string }).stderr ?? (error as Error).message).trim().split('\n')[0]?.slice(0, 200) ?? 'error';
    }
  } else {
    libvirtd.error = 'virsh not installed';
  }
  const kvmProblems: string[] = [];
  if (!present) kvmProblems.push(`${probe.devKvm} is missing: enable VT-x/AMD-V in firmware, load kvm_intel/kvm_amd, or enable nested virtualization on the VM host`);
  else if (!accessible) kvmProblems.push(`${probe.devKvm} exists but this user cannot open it as a device (add it to the kvm group)`);
  if (cpu.virtualization === null) kvmProblems.push('CPU flags show neither vmx nor svm: hardware virtualization is not exposed to this OS');
  const problems = [...kvmProblems];
  if (!libvirtd.reachable) problems.push(`libvirt at ${input.libvirtUri} is not reachable${libvirtd.error ? ` (${libvirtd.error})` : ''}`);
  const acceleration = kvmProblems.length === 0 ? 'kvm' : 'emulation';
  return {
    devKvm: { present, accessible },
    cpuVirtualization: cpu.virtualization,
    nested,
    libvirtd,
    domains,
    acceleration,
    ...(kvmProblems[0] === undefined ? {} : { emulationReason: `software emulation: ${kvmProblems[0]}` }),
    problems,
    ready: problems.length === 0,
  };
}
