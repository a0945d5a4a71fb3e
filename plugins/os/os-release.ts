/** Parsing of os-release(5) and the OS facts derived from it. Pure: tests feed real files. */

export type OsFamily = 'rhel' | 'debian' | 'unknown';
export type PackageManager = 'dnf' | 'yum' | 'apt' | 'unknown';

export interface OsFacts {
  /** os-release ID, e.g. "rhel", "rocky", "almalinux", "centos", "fedora", "debian", "ubuntu". */
  id: string;
  name: string;
  /** VERSION_ID, e.g. "9.4", "10", "12", "24.04". */
  version: string;
  majorVersion: number | null;
  family: OsFamily;
  packageManager: PackageManager;
  /** A target Qubinode supports as a hypervisor: the RHEL family, Debian 12/13, Ubuntu 24.04 LTS. */
  hypervisorSupported: boolean;
  /** RHEL 10 / CentOS Stream 10 (and later) need an x86_64-v3 CPU. */
  requiresX86_64V3: boolean;
}

/** KEY=value lines; values may be quoted with " or '. */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    let value = (match[2] ?? '').trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) value = value.slice(1, -1).replace(/\\(["'$`\\])/g, '$1');
    fields[match[1] ?? ''] = value;
  }
  return fields;
}

const RHEL_LIKE = new Set(['rhel', 'rocky', 'almalinux', 'centos', 'fedora', 'ol']);
const SUPPORTED_MAJORS: Record<string, readonly number[]> = {
  rhel: [8, 9, 10],
  rocky: [8, 9, 10],
  almalinux: [8, 9, 10],
  centos: [9, 10],
  debian: [12, 13],
};
// Ubuntu's majors are years: only the LTS release that kcli and libvirt support here.
const SUPPORTED_UBUNTU: readonly string[] = ['24.04'];

export function osFactsFrom(text: string): OsFacts {
  const fields = parseOsRelease(text);
  const id = (fields.ID ?? 'unknown').toLowerCase();
  const like = (fields.ID_LIKE ?? '').toLowerCase().split(/\s+/);
  const version = fields.VERSION_ID ?? '';
  const major = /^(\d+)/.exec(version)?.[1];
  const majorVersion = major === undefined ? null : Number(major);
  const family: OsFamily = RHEL_LIKE.has(id) || like.includes('rhel') || like.includes('fedora') ? 'rhel' : id === 'debian' || like.includes('debian') ? 'debian' : 'unknown';
  const packageManager: PackageManager = family === 'rhel' ? (id !== 'fedora' && majorVersion !== null && majorVersion < 8 ? 'yum' : 'dnf') : family === 'debian' ? 'apt' : 'unknown';
  const supportedMajors = SUPPORTED_MAJORS[id];
  const hypervisorSupported = id === 'fedora' || (id === 'ubuntu' && SUPPORTED_UBUNTU.includes(version)) || (supportedMajors !== undefined && majorVersion !== null && supportedMajors.includes(majorVersion));
  const requiresX86_64V3 = (id === 'rhel' || id === 'centos' || id === 'rocky' || id === 'almalinux') && majorVersion !== null && majorVersion >= 10;
  return { id, name: fields.PRETTY_NAME ?? fields.NAME ?? id, version, majorVersion, family, packageManager, hypervisorSupported, requiresX86_64V3 };
}

/** Highest python3.N among file names (of /usr/bin), e.g. "3.12"; undefined when none. */
export function pythonVersionFrom(binEntries: readonly string[]): string | undefined {
  const versions = binEntries
    .map((entry) => /^python(3\.\d+)$/.exec(entry)?.[1])
    .filter((version): version is string => version !== undefined)
    .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]));
  return versions.at(-1);
}
