import { existsSync, readFileSync, statfsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A few read-only facts of this host for the failure analyser's prompt. Only reads files and system
 * calls (no subprocess, unlike some diag.* tools), so it costs nothing on the analysis path; `ai ask`
 * uses the full diag.* tools instead.
 */
export function localFacts(options: { dataDir?: string; toolBin?: string } = {}): Record<string, string> {
  const facts: Record<string, string> = {
    hostname: os.hostname(),
    os: osRelease(),
    kernel: os.release(),
    cpus: String(os.cpus().length),
    loadAverage: os.loadavg().map((value) => value.toFixed(2)).join(' '),
    memoryFree: `${Math.round(os.freemem() / 2 ** 20)} MiB of ${Math.round(os.totalmem() / 2 ** 20)} MiB`,
    devKvm: existsSync('/dev/kvm') ? 'present' : 'missing',
    kvmModule: kvmModules(),
    libvirtSocket: ['/var/run/libvirt/libvirt-sock', '/var/run/libvirt/virtqemud-sock'].filter((socket) => existsSync(socket)).join(', ') || 'none',
  };
  for (const [label, dir] of [['diskRoot', '/'], ['diskData', options.dataDir]] as const) {
    if (!dir || !existsSync(dir)) continue;
    const stats = statfsSync(dir);
    const free = (stats.bavail * stats.bsize) / 2 ** 30;
    const total = (stats.blocks * stats.bsize) / 2 ** 30;
    facts[label] = `${free.toFixed(1)} GiB free of ${total.toFixed(1)} GiB (${dir})`;
  }
  if (options.toolBin) {
    facts.tools = ['ansible-navigator', 'ansible-playbook', 'kcli'].map((tool) => `${tool}:${existsSync(path.join(options.toolBin ?? '', tool)) ? 'yes' : 'no'}`).join(' ');
  }
  return facts;
}

function osRelease(): string {
  try {
    return /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? os.type();
  } catch {
    return os.type(); // No os-release (containers, other OSes): the kernel type still says something.
  }
}

function kvmModules(): string {
  try {
    const modules = readFileSync('/proc/modules', 'utf8')
      .split('\n')
      .map((line) => line.split(' ')[0] ?? '')
      .filter((name) => name.startsWith('kvm'));
    return modules.join(', ') || 'not loaded';
  } catch {
    return 'unknown';
  }
}
