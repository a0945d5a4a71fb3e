/** Parses the update listings of dnf and apt into one report: what can be updated, which updates fix security issues, whether a reboot follows. */

export type PackageManager = 'dnf' | 'apt';

export interface PackageUpdate {
  name: string;
  arch?: string;
  /** Version on offer. */
  version: string;
  /** Repository (dnf) or suites (apt) offering it. */
  repo: string;
  /** Version installed now (apt shows it). */
  from?: string;
  security: boolean;
  /** dnf advisory severity, e.g. Important. */
  severity?: string;
  advisory?: string;
  rebootRequired: boolean;
}

export interface UpdateReport {
  manager: PackageManager;
  total: number;
  security: number;
  maintenance: number;
  rebootRequired: boolean;
  packages: PackageUpdate[];
}

/** Packages whose update only takes effect after a reboot (kernel, C library, init, firmware, microcode). */
const REBOOT_PACKAGES = [/^kernel(-core|-modules.*)?$/, /^linux-image-/, /^linux-modules-/, /^glibc$/, /^libc6$/, /^systemd$/, /^dbus(-broker|-daemon)?$/, /^linux-firmware$/, /^microcode_ctl$/, /^(intel|amd64)-microcode$/];

export function needsReboot(name: string): boolean {
  return REBOOT_PACKAGES.some((pattern) => pattern.test(name));
}

/** `name.arch` → [name, arch]; names may contain dots (python3.11), the arch is the last part. */
function splitArch(nameArch: string): [string, string | undefined] {
  const dot = nameArch.lastIndexOf('.');
  return dot > 0 ? [nameArch.slice(0, dot), nameArch.slice(dot + 1)] : [nameArch, undefined];
}

interface Advisory {
  id: string;
  severity: string;
}

/**
 * `dnf updateinfo list --security` lines: `RHSA-2024:2679 Important/Sec. kernel-5.14.0-427.13.1.el9_4.x86_64`.
 * Returns advisories by package name (the NEVRA minus version-release.arch).
 */
export function parseDnfSecurity(text: string): Map<string, Advisory> {
  const byName = new Map<string, Advisory>();
  for (const line of text.split('\n')) {
    const match = /^(\S+)\s+(\S+)\/Sec\.\s+(\S+)$/.exec(line.trim());
    if (!match) continue;
    const [, id = '', severity = '', nevra = ''] = match;
    // name-[epoch:]version-release.arch: the name is what precedes the last two dashes.
    const withoutArch = nevra.replace(/\.[^.]+$/, '');
    const parts = withoutArch.split('-');
    const name = parts.slice(0, -2).join('-');
    if (name && !byName.has(name)) byName.set(name, { id, severity });
  }
  return byName;
}

/**
 * `dnf check-update` (exit 100 when updates exist). Skips the metadata line, blank lines and the
 * "Obsoleting Packages" section (its indented lines name the installed packages being replaced).
 */
export function parseDnfCheckUpdate(text: string, securityText = ''): UpdateReport {
  const advisories = parseDnfSecurity(securityText);
  const packages: PackageUpdate[] = [];
  const seen = new Set<string>();
  let obsoleting = false;
  for (const raw of text.split('\n')) {
    if (/^Obsoleting Packages/i.test(raw)) {
      obsoleting = true;
      continue;
    }
    if (raw.trim() === '' || /^(Last metadata expiration check|Security:|Updating Subscription|Loaded plugins|Error:)/i.test(raw.trim())) continue;
    if (obsoleting && /^\s/.test(raw)) continue;
    const fields = raw.trim().split(/\s+/);
    if (fields.length !== 3) continue;
    const [nameArch = '', version = '', repo = ''] = fields;
    const [name, arch] = splitArch(nameArch);
    if (!/^[\w.+-]+$/.test(name) || !/\d/.test(version) || seen.has(nameArch)) continue;
    seen.add(nameArch);
    const advisory = advisories.get(name);
    packages.push({ name, ...(arch ? { arch } : {}), version, repo, security: advisory !== undefined, ...(advisory ? { severity: advisory.severity, advisory: advisory.id } : {}), rebootRequired: needsReboot(name) });
  }
  return summed('dnf', packages);
}

/**
 * `apt list --upgradable`: `libssl3/bookworm-security 3.0.15-1~deb12u1 amd64 [upgradable from: 3.0.14-1~deb12u2]`.
 * An update is a security update when one of its suites ends in -security.
 */
export function parseAptUpgradable(text: string): UpdateReport {
  const packages: PackageUpdate[] = [];
  for (const raw of text.split('\n')) {
    const match = /^([^/\s]+)\/(\S+)\s+(\S+)\s+(\S+)(?:\s+\[upgradable from:\s*([^\]]+)\])?/.exec(raw.trim());
    if (!match) continue;
    const [, name = '', suites = '', version = '', arch = '', from] = match;
    packages.push({
      name,
      arch,
      version,
      repo: suites,
      ...(from ? { from: from.trim() } : {}),
      security: suites.split(',').some((suite) => /-security$/.test(suite)),
      rebootRequired: needsReboot(name),
    });
  }
  return summed('apt', packages);
}

/**
 * `apt-get -s dist-upgrade` (apt-get is apt's interface for scripts; `apt list` warns it has none):
 * `Inst libssl3 [3.0.14-1~deb12u2] (3.0.15-1~deb12u1 Debian-Security:12/stable-security [amd64])`.
 * Only `Inst` lines with an installed version are updates; those without one are packages an update
 * pulls in. An update is a security update when one of its releases (after "/") ends in -security.
 */
export function parseAptSimulation(text: string): UpdateReport {
  const packages: PackageUpdate[] = [];
  for (const raw of text.split('\n')) {
    const match = /^Inst (\S+) \[([^\]]+)\] \((\S+) (.*) \[([^\]]+)\]\)/.exec(raw.trim());
    if (!match) continue;
    const [, name = '', from = '', version = '', origins = '', arch = ''] = match;
    const releases = origins.split(', ').map((origin) => origin.trim());
    packages.push({
      name,
      arch,
      version,
      repo: releases.join(','),
      from,
      security: releases.some((origin) => /-security$/.test(origin.split('/').at(-1) ?? '')),
      rebootRequired: needsReboot(name),
    });
  }
  return summed('apt', packages);
}

/** Which saved apt listing a text is: `apt-get -s` output or `apt list --upgradable`. */
export function isAptSimulation(text: string): boolean {
  return /^(Inst|Conf) \S+ /m.test(text);
}

function summed(manager: PackageManager, packages: PackageUpdate[]): UpdateReport {
  const security = packages.filter((entry) => entry.security).length;
  return { manager, total: packages.length, security, maintenance: packages.length - security, rebootRequired: packages.some((entry) => entry.rebootRequired), packages };
}

export function parseUpdates(manager: PackageManager, text: string, securityText = ''): UpdateReport {
  if (manager === 'dnf') return parseDnfCheckUpdate(text, securityText);
  return isAptSimulation(text) ? parseAptSimulation(text) : parseAptUpgradable(text);
}

/** The report restricted to `names` (all of it when `names` is empty). */
export function onlyPackages(full: UpdateReport, names: readonly string[]): UpdateReport {
  if (names.length === 0) return full;
  const wanted = new Set(names.map((name) => name.replace(/:[a-z0-9-]+$/, '')));
  return summed(full.manager, full.packages.filter((entry) => wanted.has(entry.name)));
}
