import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { findTool, toolPath } from '../config/tool-paths';
import { describeToolInstall, readToolInstall, toolStillInstalling, type ToolInstallStatus } from '../config/tool-install';

const run = promisify(execFile);

/** One tool `qubinode doctor` checks. */
export interface ToolReport {
  tool: string;
  /** What needs it. */
  usedBy: string;
  present: boolean;
  path?: string;
  version?: string;
  /** Set when something is missing or broken: what the operator should do. */
  fix?: string;
  /** Optional tools only limit features; required ones block the engine. */
  required: boolean;
  /** Still to come from the background install `npm start` began: tasks needing it wait for it. */
  installing?: boolean;
}

interface ToolProbe {
  tool: string;
  usedBy: string;
  args: string[];
  version: RegExp;
  required: boolean;
  fix: string;
}

const SETUP_FIX = 'run `bash infra/setup.sh` (installs the pinned version into .tools/venv)';

const PROBES: readonly ToolProbe[] = [
  { tool: 'temporal', usedBy: 'the Temporal dev server', args: ['--version'], version: /temporal version (\S+)/, required: true, fix: SETUP_FIX },
  { tool: 'ansible-playbook', usedBy: 'ansible.playbook (fallback runner)', args: ['--version'], version: /core ([\d.]+)/, required: false, fix: SETUP_FIX },
  { tool: 'ansible-navigator', usedBy: 'ansible.playbook', args: ['--version'], version: /ansible-navigator ([\d.]+)/, required: false, fix: `${SETUP_FIX}; without it ansible.playbook falls back to ansible-playbook` },
  { tool: 'kcli', usedBy: 'kcli.* actions', args: ['version'], version: /version: (\S+) commit: (\S+)/, required: false, fix: `${SETUP_FIX}; kcli needs libvirt-dev to build libvirt-python (apt-get install libvirt-dev pkg-config gcc, or dnf install libvirt-devel)` },
  { tool: 'virsh', usedBy: 'diag.kvm, kcli against qemu:///system', args: ['--version'], version: /^([\d.]+)/, required: false, fix: 'install libvirt (RHEL: dnf install libvirt; Debian: `bash infra/setup-libvirt.sh` as root)' },
  { tool: 'podman', usedBy: 'ansible.playbook executionEnvironment', args: ['--version'], version: /version (\S+)/, required: false, fix: 'optional: install podman to run playbooks inside an execution-environment image' },
  { tool: 'git', usedBy: 'DAG repository sync', args: ['--version'], version: /git version (\S+)/, required: true, fix: 'install git' },
];

async function probe(spec: ToolProbe, install: ToolInstallStatus | undefined): Promise<ToolReport> {
  const base = { tool: spec.tool, usedBy: spec.usedBy, required: spec.required };
  if (toolStillInstalling(spec.tool, install)) return { ...base, present: false, installing: true, fix: 'being installed in the background (see the install line above); tasks that need it wait for it' };
  const found = findTool(spec.tool);
  if (found === undefined) return { ...base, present: false, fix: spec.fix };
  try {
    const { stdout, stderr } = await run(found, spec.args, { timeout: 20_000, env: { ...process.env, PATH: toolPath(), NO_COLOR: '1' } });
    const match = spec.version.exec(`${stdout}\n${stderr}`.replace(/\x1b\[[0-9;]*m/g, ''));
    const version = match === null ? undefined : match.slice(1).filter(Boolean).join(' ');
    return { ...base, present: true, path: found, ...(version === undefined ? {} : { version }) };
  } catch (error) {
    const reason = (error as { stderr?: string; message: string }).stderr?.trim().split('\n').at(-1) ?? (error as Error).message;
    return { ...base, present: false, path: found, fix: `${found} does not run (${reason.slice(0, 160)}); ${spec.fix}` };
  }
}

/** Presence and version of every external tool the actions use, with what to do about missing ones. */
export async function checkTools(): Promise<ToolReport[]> {
  const install = readToolInstall();
  const reports = await Promise.all(PROBES.map((spec) => probe(spec, install)));
  const kvm = existsSync('/dev/kvm');
  reports.push({
    tool: '/dev/kvm',
    usedBy: 'hardware-accelerated VMs (kcli, hypervisor-bootstrap)',
    required: false,
    present: kvm,
    ...(kvm ? {} : { fix: 'enable virtualization (VT-x/AMD-V) in firmware, or nested virtualization on a VM host; VMs still run in slow qemu emulation without it' }),
  });
  return reports;
}

/** The background tool install `npm start` began, as one line; undefined when there has been none. */
export function toolInstallLine(): string | undefined {
  const status = readToolInstall();
  return status === undefined ? undefined : describeToolInstall(status);
}
