import { ApplicationFailure } from '@temporalio/common';
import { UpdatesApplyInput, UpdatesRevertInput, type AptOptions } from '../../dag-repos/actions/updates-inputs';
import { taskLogPath } from '../../config/log-layout';
import { toolPath } from '../../config/tool-paths';
import { parseActionInput } from './action-input';
import type { ActionInvocation, ActionResult } from '../../dag-repos/actions/action-types';
import { availableUpdates } from './updates-detect';
import { UPDATE_ERRORS, aptConfigArgs, installedVersions, normalVersion, pickManager } from './package-manager';
import { onlyPackages, type PackageManager } from './update-parser';
import { runTool } from '../process/tool-process';

export interface UpdatesApplyDeps {
  logRoot: string;
}

/** Unattended apt: a changed configuration file keeps the host's version; another package manager at work (an unattended upgrade) is waited for, not failed on. */
const APT_UNATTENDED = ['-q', '-y', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold', '-o', 'DPkg::Lock::Timeout=600'];

/** The command that updates `names` and nothing else installed (argv; names were validated). */
function updateCommand(manager: PackageManager, names: readonly string[], aptOptions: AptOptions): { file: string; args: string[] } {
  if (manager === 'dnf') return { file: 'dnf', args: ['-y', 'upgrade', '--', ...names] };
  // --only-upgrade: a named package that is not installed is skipped, never installed.
  return { file: 'apt-get', args: [...APT_UNATTENDED, '--only-upgrade', ...aptConfigArgs(aptOptions), 'install', '--', ...names] };
}

/** The command that puts each package back at `version` (argv; names and versions were validated). */
function revertCommand(manager: PackageManager, targets: readonly { name: string; version: string }[], aptOptions: AptOptions): { file: string; args: string[] } {
  if (manager === 'dnf') return { file: 'dnf', args: ['-y', 'downgrade', '--', ...targets.map(({ name, version }) => `${name}-${version}`)] };
  return { file: 'apt-get', args: [...APT_UNATTENDED, '--only-upgrade', '--allow-downgrades', ...aptConfigArgs(aptOptions), 'install', '--', ...targets.map(({ name, version }) => `${name}=${version}`)] };
}

async function runPackageManager(deps: UpdatesApplyDeps, inv: ActionInvocation, action: string, command: { file: string; args: string[] }): Promise<string> {
  const logPath = taskLogPath(deps.logRoot, inv.runId, inv.taskId, inv.itemIndex);
  const run = await runTool({ ...command, env: { ...process.env, PATH: toolPath(), LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' }, logPath, secrets: inv.secrets ?? [] });
  if (run.spawnError !== undefined) throw ApplicationFailure.nonRetryable(`${action}: cannot run ${command.file}: ${run.spawnError}`, UPDATE_ERRORS.UnsupportedPackageManager);
  if (run.exitCode !== 0) {
    const tail = run.stderrTail.trim().split('\n').slice(-5).join('\n');
    throw ApplicationFailure.retryable(`${action}: ${command.file} exited ${run.exitCode ?? run.signal ?? '?'}${tail ? `: ${tail}` : ''}`, UPDATE_ERRORS.CommandFailed);
  }
  return logPath;
}

/** Fails with UpdateNotApplied naming each package that is not at the version wanted. */
async function verifyVersions(manager: PackageManager, action: string, file: string, wanted: readonly { name: string; version: string }[]): Promise<void> {
  const installed = await installedVersions(manager, wanted.map(({ name }) => name));
  const missed = wanted.filter(({ name, version }) => !(installed.get(name) ?? []).includes(normalVersion(version)));
  if (missed.length === 0) return;
  const found = missed.map(({ name, version }) => `${name} is at ${(installed.get(name) ?? []).join(', ') || 'nothing installed'}, not ${version}`);
  throw ApplicationFailure.nonRetryable(`${action}: ${file} finished but ${found.join('; ')}`, UPDATE_ERRORS.UpdateNotApplied);
}

/**
 * `updates.apply` updates the named packages that have an update on offer, then checks the package
 * database: each must be at the version that was offered. `updates.revert`, its compensation, puts
 * them back at the versions they had, where the repositories still offer those.
 */
export function createUpdatesApplyActivities(deps: UpdatesApplyDeps) {
  return {
    async updatesApply(inv: ActionInvocation): Promise<ActionResult> {
      const input = parseActionInput('updates.apply', UpdatesApplyInput, inv.with);
      const manager = pickManager(input.manager, 'updates.apply');
      const offered = onlyPackages(await availableUpdates(manager, { refresh: false, aptOptions: input.aptOptions }), input.packages);
      const names = [...new Set(offered.packages.map((entry) => entry.name))];
      if (names.length === 0) {
        // created: false tells a rollback there is nothing of this task's to undo.
        return { outputs: { manager, changed: false, created: false, updated: [] }, summary: `nothing to update among ${input.packages.join(', ').slice(0, 200)}` };
      }
      // dnf does not say which version is installed; the package database does, for both.
      const before = await installedVersions(manager, names);
      const command = updateCommand(manager, names, input.aptOptions);
      const logPath = await runPackageManager(deps, inv, 'updates.apply', command);
      const updated = offered.packages.map((entry) => ({ name: entry.name, from: entry.from ?? before.get(entry.name)?.[0], to: entry.version }));
      await verifyVersions(manager, 'updates.apply', command.file, updated.map(({ name, to }) => ({ name, version: to })));
      return {
        outputs: { manager, changed: true, updated: updated.map(({ name, from, to }) => ({ name, ...(from === undefined ? {} : { from }), to })) },
        summary: `updated ${updated.map((entry) => `${entry.name} ${entry.from ?? '?'} → ${entry.to}`).join(', ').slice(0, 300)}`,
        logPath,
      };
    },

    async updatesRevert(inv: ActionInvocation): Promise<ActionResult> {
      const input = parseActionInput('updates.revert', UpdatesRevertInput, inv.with);
      const manager = pickManager(input.manager, 'updates.revert');
      const installed = await installedVersions(manager, input.packages.map(({ name }) => name));
      // Already back (a rollback run twice, or a host restored otherwise): nothing to do for those.
      const targets = input.packages.filter(({ name, from }) => !(installed.get(name) ?? []).includes(normalVersion(from))).map(({ name, from }) => ({ name, version: from }));
      if (targets.length === 0) return { outputs: { manager, changed: false, reverted: [] }, summary: 'every package is at its earlier version already' };
      const command = revertCommand(manager, targets, input.aptOptions);
      const logPath = await runPackageManager(deps, inv, 'updates.revert', command);
      await verifyVersions(manager, 'updates.revert', command.file, targets);
      return {
        outputs: { manager, changed: true, reverted: targets.map(({ name, version }) => ({ name, to: version })) },
        summary: `reverted ${targets.map(({ name, version }) => `${name} → ${version}`).join(', ').slice(0, 300)}`,
        logPath,
      };
    },
  };
}
