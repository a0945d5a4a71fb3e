import { ApplicationFailure } from '@temporalio/common';
import { UpdatesApplyInput } from '../dag-repos/actions/updates-inputs';
import { taskLogPath } from '../config/log-layout';
import { toolPath } from '../config/tool-paths';
import { parseActionInput } from './action-input';
import type { ActionInvocation, ActionResult } from './action-types';
import { availableUpdates } from './updates-detect';
import { UPDATE_ERRORS, aptConfigArgs, installedVersions, normalVersion, pickManager } from './package-manager';
import { onlyPackages, type PackageManager } from './update-parser';
import { runTool } from './tool-process';

export interface UpdatesApplyDeps {
  logRoot: string;
}

/** The package manager's command that updates `names` and nothing else that is installed (argv; names were validated). */
function updateCommand(manager: PackageManager, names: readonly string[], aptOptions: Parameters<typeof aptConfigArgs>[0]): { file: string; args: string[] } {
  if (manager === 'dnf') return { file: 'dnf', args: ['-y', 'upgrade', '--', ...names] };
  return {
    file: 'apt-get',
    // --only-upgrade: a named package that is not installed is skipped, never installed. Unattended, a
    // changed configuration file keeps the host's version. Another package manager at work (an
    // unattended upgrade) is waited for rather than failed on.
    args: ['-q', '-y', '--only-upgrade', ...aptConfigArgs(aptOptions), '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold', '-o', 'DPkg::Lock::Timeout=600', 'install', '--', ...names],
  };
}

/**
 * `updates.apply` activity: updates the named packages that have an update on offer, then checks the
 * package database: each must now be at the version that was offered, or the task fails
 * (UpdateNotApplied) naming what it found.
 */
export function createUpdatesApplyActivities(deps: UpdatesApplyDeps) {
  return {
    async updatesApply(inv: ActionInvocation): Promise<ActionResult> {
      const input = parseActionInput('updates.apply', UpdatesApplyInput, inv.with);
      const manager = pickManager(input.manager, 'updates.apply');
      const offered = onlyPackages(await availableUpdates(manager, { refresh: false, aptOptions: input.aptOptions }), input.packages);
      const names = [...new Set(offered.packages.map((entry) => entry.name))];
      if (names.length === 0) {
        return { outputs: { manager, updated: [], changed: false }, summary: `nothing to update among ${input.packages.join(', ').slice(0, 200)}` };
      }

      const logPath = taskLogPath(deps.logRoot, inv.runId, inv.taskId, inv.itemIndex);
      const { file, args } = updateCommand(manager, names, input.aptOptions);
      const run = await runTool({ file, args, env: { ...process.env, PATH: toolPath(), LC_ALL: 'C', DEBIAN_FRONTEND: 'noninteractive' }, logPath, secrets: inv.secrets ?? [] });
      if (run.spawnError !== undefined) throw ApplicationFailure.nonRetryable(`updates.apply: cannot run ${file}: ${run.spawnError}`, UPDATE_ERRORS.UnsupportedPackageManager);
      if (run.exitCode !== 0) {
        const tail = run.stderrTail.trim().split('\n').slice(-5).join('\n');
        throw ApplicationFailure.retryable(`${file} exited ${run.exitCode ?? run.signal ?? '?'}${tail ? `: ${tail}` : ''}`, UPDATE_ERRORS.CommandFailed);
      }

      const installed = await installedVersions(manager, names);
      const updated = offered.packages.map((entry) => ({ name: entry.name, from: entry.from, to: entry.version, installed: installed.get(entry.name) ?? [] }));
      const missed = updated.filter((entry) => !entry.installed.includes(normalVersion(entry.to)));
      if (missed.length > 0) {
        const found = missed.map((entry) => `${entry.name} is at ${entry.installed.join(', ') || 'nothing installed'}, not ${entry.to}`);
        throw ApplicationFailure.nonRetryable(`updates.apply: ${file} finished but ${found.join('; ')}`, UPDATE_ERRORS.UpdateNotApplied);
      }
      return {
        outputs: { manager, changed: true, updated: updated.map(({ name, from, to }) => ({ name, ...(from === undefined ? {} : { from }), to })) },
        summary: `updated ${updated.map((entry) => `${entry.name} ${entry.from ?? '?'} → ${entry.to}`).join(', ').slice(0, 300)}`,
        logPath,
      };
    },
  };
}
