import { readFileSync } from 'node:fs';
import { UpdatesDetectInput, type AptOptions } from '../../dag-repos/actions/updates-inputs';
import { parseActionInput } from './action-input';
import type { ActionInvocation, ActionResult } from '../../dag-repos/actions/action-types';
import { aptConfigArgs, commandFailed, pickManager, runQuery } from './package-manager';
import { isAptSimulation, onlyPackages, parseUpdates, type PackageManager, type UpdateReport } from './update-parser';

const MAX_LISTED = 50;
const MAX_NAMES = 1000;

export interface UpdateQuery {
  /** apt: run `apt-get update` first. */
  refresh: boolean;
  aptOptions: AptOptions;
}

/**
 * The updates the host's package manager has on offer. apt is asked through apt-get, its interface for
 * scripts: `apt-get -s dist-upgrade` simulates the upgrade without root and without changing anything,
 * and also lists updates that need a new package (which `apt-get upgrade` holds back).
 */
export async function availableUpdates(manager: PackageManager, query: UpdateQuery): Promise<UpdateReport> {
  if (manager === 'dnf') {
    // check-update exits 100 when updates exist, 0 when none, 1 on error.
    const listed = await runQuery('dnf', ['-q', 'check-update']);
    if (listed.code !== 0 && listed.code !== 100) throw commandFailed('dnf check-update', listed);
    const security = await runQuery('dnf', ['-q', 'updateinfo', 'list', '--security']);
    return parseUpdates('dnf', listed.stdout, security.code === 0 ? security.stdout : '');
  }
  const options = aptConfigArgs(query.aptOptions);
  if (query.refresh) {
    const refreshed = await runQuery('apt-get', ['-q', ...options, 'update']);
    if (refreshed.code !== 0) throw commandFailed('apt-get update', refreshed);
  }
  const simulated = await runQuery('apt-get', ['-q', '-s', ...options, 'dist-upgrade']);
  if (simulated.code !== 0) throw commandFailed('apt-get -s dist-upgrade', simulated);
  return parseUpdates('apt', simulated.stdout);
}

function savedManager(text: string, wanted: 'auto' | PackageManager): PackageManager {
  if (wanted !== 'auto') return wanted;
  return isAptSimulation(text) || /^Listing\.\.\.|\[upgradable from:/m.test(text) ? 'apt' : 'dnf';
}

/** `updates.detect` activity: available updates on this worker's host, classified. */
export function createUpdatesActivities() {
  return {
    async updatesDetect(inv: ActionInvocation): Promise<ActionResult> {
      const parsed = parseActionInput('updates.detect', UpdatesDetectInput, inv.with);
      // Templated inputs render to "" when a param is unset: that means "not given".
      const input = { ...parsed, outputFile: parsed.outputFile || undefined, securityFile: parsed.securityFile || undefined };
      let full: UpdateReport;
      if (input.outputFile) {
        const text = readFileSync(input.outputFile, 'utf8');
        full = parseUpdates(savedManager(text, input.manager), text, input.securityFile ? readFileSync(input.securityFile, 'utf8') : '');
      } else {
        full = await availableUpdates(pickManager(input.manager, 'updates.detect'), input);
      }
      const report = onlyPackages(full, input.packages);
      const names = [...new Set(report.packages.map((entry) => entry.name))];
      return {
        outputs: { ...report, packages: report.packages.slice(0, MAX_LISTED), listed: Math.min(MAX_LISTED, report.total), names: names.slice(0, MAX_NAMES) },
        summary: `${report.total} updates (${report.security} security, ${report.maintenance} maintenance)${report.rebootRequired ? ', reboot needed' : ''}`,
      };
    },
  };
}
