import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/common';
import { UpdatesDetectInput } from '../dag-repos/actions/rollout-inputs';
import { parseActionInput } from './action-input';
import type { ActionInvocation, ActionResult } from './action-types';
import { parseUpdates, type PackageManager } from './update-parser';

const MAX_LISTED = 50;

function run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { maxBuffer: 16 * 1024 * 1024, timeout: 10 * 60_000, env: { ...process.env, LC_ALL: 'C' } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function pickManager(wanted: 'auto' | PackageManager): PackageManager {
  if (wanted !== 'auto') return wanted;
  if (['/usr/bin/dnf', '/bin/dnf'].some(existsSync)) return 'dnf';
  if (['/usr/bin/apt', '/bin/apt'].some(existsSync)) return 'apt';
  throw ApplicationFailure.nonRetryable('updates.detect: neither dnf nor apt is installed on this worker', 'UnsupportedPackageManager');
}

async function listing(manager: PackageManager): Promise<{ text: string; security: string }> {
  if (manager === 'dnf') {
    // check-update exits 100 when updates exist, 0 when none, 1 on error.
    const listed = await run('dnf', ['-q', 'check-update']);
    if (listed.code !== 0 && listed.code !== 100) throw ApplicationFailure.retryable(`dnf check-update exited ${listed.code}: ${listed.stderr.slice(-500)}`, 'CommandFailed');
    const security = await run('dnf', ['-q', 'updateinfo', 'list', '--security']);
    return { text: listed.stdout, security: security.code === 0 ? security.stdout : '' };
  }
  const listed = await run('apt', ['list', '--upgradable']);
  if (listed.code !== 0) throw ApplicationFailure.retryable(`apt list --upgradable exited ${listed.code}: ${listed.stderr.slice(-500)}`, 'CommandFailed');
  return { text: listed.stdout, security: '' };
}

/** `updates.detect` activity: available updates on this worker's host, classified. */
export function createUpdatesActivities() {
  return {
    async updatesDetect(inv: ActionInvocation): Promise<ActionResult> {
      const parsed = parseActionInput('updates.detect', UpdatesDetectInput, inv.with);
      // Templated inputs render to "" when a param is unset: that means "not given".
      const input = { ...parsed, outputFile: parsed.outputFile || undefined, securityFile: parsed.securityFile || undefined };
      const manager = input.outputFile && input.manager === 'auto' ? (/^Listing\.\.\.|\[upgradable from:/m.test(readFileSync(input.outputFile, 'utf8')) ? 'apt' : 'dnf') : pickManager(input.manager);
      const { text, security } = input.outputFile
        ? { text: readFileSync(input.outputFile, 'utf8'), security: input.securityFile ? readFileSync(input.securityFile, 'utf8') : '' }
        : await listing(manager);
      const report = parseUpdates(manager, text, security);
      return {
        outputs: { ...report, packages: report.packages.slice(0, MAX_LISTED), listed: Math.min(MAX_LISTED, report.total) },
        summary: `${report.total} updates (${report.security} security, ${report.maintenance} maintenance)${report.rebootRequired ? ', reboot needed' : ''}`,
      };
    },
  };
}
