import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { aptOptionKey, type AptOptions } from '../../dag-repos/actions/updates-inputs';
import type { PackageManager } from './update-parser';
import type { FailureType } from '../../dag-repos/actions/failure-types';

/** Failure types of the `updates.*` actions. */
export const UPDATE_ERRORS = {
  /** Neither dnf nor apt on this host (or the one asked for is missing). */
  UnsupportedPackageManager: 'UnsupportedPackageManager',
  /** The package manager exited non-zero (lists unreachable, a lock held, a failed transaction). */
  CommandFailed: 'CommandFailed',
  /** The package manager said it was done, but a package is not at the version that was on offer. */
  UpdateNotApplied: 'UpdateNotApplied',
} as const satisfies Record<string, FailureType>;

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a short package-manager query (argv, no shell) in the C locale, whose output the parsers read. */
export function runQuery(command: string, args: readonly string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(command, args, { maxBuffer: 16 * 1024 * 1024, timeout: 10 * 60_000, env: { ...process.env, LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr: error && typeof error.code !== 'number' ? `${stderr}${error.message}` : stderr });
    });
  });
}

export function pickManager(wanted: 'auto' | PackageManager, action: string): PackageManager {
  if (wanted !== 'auto') return wanted;
  if (['/usr/bin/dnf', '/bin/dnf'].some(existsSync)) return 'dnf';
  if (['/usr/bin/apt-get', '/bin/apt-get'].some(existsSync)) return 'apt';
  throw ApplicationFailure.nonRetryable(`${action}: neither dnf nor apt is installed on this worker`, UPDATE_ERRORS.UnsupportedPackageManager);
}

/** `-o Key=Value` pairs for apt-get; keys were checked against the allow-list by the input schema and are spelled as apt documents them. */
export function aptConfigArgs(options: AptOptions): string[] {
  return Object.entries(options).flatMap(([key, value]) => ['-o', `${aptOptionKey(key) ?? key}=${value}`]);
}

export function commandFailed(what: string, result: CommandResult): ApplicationFailure {
  const tail = result.stderr.trim().split('\n').slice(-5).join('\n').slice(-500);
  return ApplicationFailure.retryable(`${what} exited ${result.code}${tail ? `: ${tail}` : ''}`, UPDATE_ERRORS.CommandFailed);
}

/** Installed versions by package name, as the package database has them (a name installed for two architectures has two). */
export async function installedVersions(manager: PackageManager, names: readonly string[]): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  if (names.length === 0) return found;
  // Both exit non-zero when a name is not installed and still print the others.
  const result =
    manager === 'apt'
      ? await runQuery('dpkg-query', ['-W', '-f', '${Package}\t${Version}\t${db:Status-Abbrev}\n', '--', ...names])
      : await runQuery('rpm', ['-q', '--qf', '%{NAME}\t%{EPOCH}:%{VERSION}-%{RELEASE}\tii\n', '--', ...names]);
  for (const line of result.stdout.split('\n')) {
    const [name, version, status] = line.split('\t');
    if (!name || !version || !status?.startsWith('ii')) continue;
    found.set(name, [...(found.get(name) ?? []), normalVersion(version)]);
  }
  return found;
}

/** dnf check-update leaves out a zero epoch and rpm writes a missing one as "(none)": compare without either. */
export function normalVersion(version: string): string {
  return version.replace(/^(\(none\)|0):/, '');
}
