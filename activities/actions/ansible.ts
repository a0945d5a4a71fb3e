import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { AnsiblePlaybookInput } from '../../dag-repos/actions/ansible-input';
import { parseDuration } from '../../dag-repos/schema/duration';
import { PROJECT_ROOT } from '../../config/config';
import { taskLogPath } from '../../config/log-layout';
import { findTool, findToolWhenInstalled, toolPath } from '../../config/tool-paths';
import { ToolInstallTimeoutError } from '../../config/tool-install';
import { Context } from '@temporalio/activity';
import { heartbeat } from '../process/secret-scope';
import { INVALID_ACTION_INPUT, parseActionInput } from './action-input';
import { isSecretReference } from '../../dag-repos/compiler/secret-references';
import type { ActionInvocation, ActionResult } from '../../dag-repos/actions/action-types';
import { writeExtraVarsFile } from './ansible-extra-vars';
import { writeLocalPythonInventory } from './ansible-local-python';
import { ansibleErrorLine, failedTasks, parseRecap, parseResults, statsFromResults, totals, type FailedTask, type HostStats } from './ansible-results';
import { resolveRepoFile, type RepoFileDeps } from '../process/repo-files';
import { runTool, stripAnsi, type ToolRunResult } from '../process/tool-process';
import { nonRetryableOf, type FailureType } from '../../dag-repos/actions/failure-types';

/** Failure types of `ansible.playbook`. */
export const ANSIBLE_ERRORS = {
  InvalidActionInput: INVALID_ACTION_INPUT,
  /** The playbook or inventory file does not exist. */
  AnsibleFileNotFound: 'AnsibleFileNotFound',
  /** Neither ansible-navigator nor ansible-playbook is installed (or the chosen runner is not). */
  AnsibleNotInstalled: 'AnsibleNotInstalled',
  /** ansible stopped before running a task: syntax error, unknown module, bad options. */
  AnsiblePlaybookInvalid: 'AnsiblePlaybookInvalid',
  /** At least one task failed on at least one host. */
  AnsibleTaskFailed: 'AnsibleTaskFailed',
  /** Hosts could not be reached (and none failed otherwise). */
  AnsibleHostUnreachable: 'AnsibleHostUnreachable',
  /** Any other non-zero exit. */
  AnsibleFailed: 'AnsibleFailed',
  AnsibleTimedOut: 'AnsibleTimedOut',
} as const satisfies Record<string, FailureType>;

export const ANSIBLE_NON_RETRYABLE_ERRORS: readonly string[] = nonRetryableOf(Object.values(ANSIBLE_ERRORS));

export interface AnsibleActivityDeps extends RepoFileDeps {
  logRoot: string;
  logger?: Logger;
}

/** Where the fallback runner's results callback lives (Python; not compiled, so found from the project root). */
const CALLBACK_DIR = path.join(PROJECT_ROOT, 'activities', 'actions', 'ansible-callback');
const TASK_LINE = /^TASK \[(.*)\] \**$/;
const PLAY_LINE = /^PLAY \[(.*)\] \**$/;

type Runner = 'ansible-navigator' | 'ansible-playbook';

export function createAnsibleActivities(deps: AnsibleActivityDeps) {
  return {
    async ansiblePlaybook(inv: ActionInvocation<z.input<typeof AnsiblePlaybookInput>>): Promise<ActionResult> {
      const input = parseAnsibleInput(inv);
      const secrets = inv.secrets ?? [];
      const playbook = requireFile(deps, inv.dagId, input.playbook, 'playbook', inv.repoDir);
      const inventory = inventoryArg(deps, inv.dagId, input.inventory, inv.repoDir);
      const [runner, program] = await chooseRunner(input.runner, input.executionEnvironment !== undefined);

      const logPath = taskLogPath(deps.logRoot, inv.runId, inv.taskId, inv.itemIndex);
      const scratch = await mkdtemp(path.join(os.tmpdir(), 'qubinode-ansible-'));
      try {
        const resultsPath = path.join(scratch, runner === 'ansible-navigator' ? 'artifact.json' : 'results.json');
        const playbookArgs: string[] = [];
        // Given first, so that whatever the task's inventory says about interpreters wins (ansible-local-python.ts).
        // Without an inventory, ansible's implicit localhost already runs on the controller's Python.
        if (inventory !== undefined) playbookArgs.push('-i', await writeLocalPythonInventory(scratch), '-i', inventory);
        if (input.extraVars !== undefined) {
          // Every string in it is tagged !unsafe: values from params, outputs and payloads are data, never Jinja.
          const varsFile = path.join(scratch, 'extra-vars.yml');
          await writeExtraVarsFile(varsFile, input.extraVars);
          playbookArgs.push('-e', `@${varsFile}`);
        }
        if (input.vaultPasswordSecret !== undefined) {
          const passFile = path.join(scratch, 'vault-pass');
          await writeFile(passFile, `${input.vaultPasswordSecret}\n`, { mode: 0o600 });
          playbookArgs.push('--vault-password-file', passFile);
        }
        if (input.limit !== undefined) playbookArgs.push('--limit', input.limit);
        if (input.tags !== undefined) playbookArgs.push('--tags', [input.tags].flat().join(','));
        if (input.skipTags !== undefined) playbookArgs.push('--skip-tags', [input.skipTags].flat().join(','));
        if (input.check) playbookArgs.push('--check');
        if (input.diff) playbookArgs.push('--diff');

        const env: NodeJS.ProcessEnv = {
          ...process.env,
          ...input.env,
          PATH: toolPath(),
          ANSIBLE_NOCOLOR: '1',
          ANSIBLE_FORCE_COLOR: '0',
          NO_COLOR: '1',
          ANSIBLE_RETRY_FILES_ENABLED: '0',
          QUBINODE_RUN_ID: inv.runId,
          QUBINODE_TASK_ID: inv.taskId,
        };
        let args: string[];
        if (runner === 'ansible-navigator') {
          // The playbook goes before -i: navigator passes everything after it through to ansible-playbook.
          args = ['run', playbook, ...playbookArgs, '--mode', 'stdout', '--pae', 'true', '--pas', resultsPath, '--lf', path.join(scratch, 'navigator.log'), '--dc', 'false'];
          if (input.executionEnvironment === undefined) args.push('--ee', 'false');
          else args.push('--ee', 'true', '--eei', input.executionEnvironment.image, '--pp', input.executionEnvironment.pull, '--ce', 'podman', '--eev', `${scratch}:${scratch}:Z`);
        } else {
          args = [playbook, ...playbookArgs];
          env.ANSIBLE_CALLBACK_PLUGINS = [CALLBACK_DIR, env.ANSIBLE_CALLBACK_PLUGINS].filter(Boolean).join(':');
          env.ANSIBLE_CALLBACKS_ENABLED = ['qubinode_results', env.ANSIBLE_CALLBACKS_ENABLED].filter(Boolean).join(',');
          env.QUBINODE_ANSIBLE_RESULTS = resultsPath;
        }

        let play = '';
        let task = '';
        let tasksStarted = 0;
        const run = await runTool({
          file: program,
          args,
          env,
          cwd: path.dirname(playbook),
          logPath,
          secrets,
          ...(input.timeout === undefined ? {} : { timeoutMs: parseDuration(input.timeout) }),
          onLine: (line) => {
            const clean = stripAnsi(line);
            const taskMatch = TASK_LINE.exec(clean);
            if (taskMatch) {
              task = taskMatch[1] ?? '';
              tasksStarted += 1;
            }
            const playMatch = PLAY_LINE.exec(clean);
            if (playMatch) play = playMatch[1] ?? '';
            return taskMatch !== null;
          },
          details: () => ({ play, task, tasksStarted }),
        });
        const results = parseResults(existsSync(resultsPath) ? await readFile(resultsPath, 'utf8') : undefined);
        return outcome(runner, run, results, logPath);
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
  };
}

function outcome(runner: Runner, run: ToolRunResult, results: ReturnType<typeof parseResults>, logPath: string): ActionResult {
  const recap = parseRecap(run.stdoutTail);
  const stats = Object.keys(recap).length > 0 ? recap : statsFromResults(results);
  const failed = failedTasks(results);
  const sum = totals(stats);
  const outputs = { runner, exitCode: run.exitCode, stats, changed: sum.changed > 0, failedTasks: failed.map(({ unreachable: _u, ...rest }) => rest) };
  const details = { ...outputs, stdoutTail: run.stdoutTail, stderrTail: run.stderrTail, logPath };

  if (run.spawnError !== undefined) {
    throw ApplicationFailure.create({ type: ANSIBLE_ERRORS.AnsibleNotInstalled, nonRetryable: true, message: `cannot run ${runner}: ${run.spawnError}`, details: [details] });
  }
  if (run.timedOut) throw ApplicationFailure.create({ type: ANSIBLE_ERRORS.AnsibleTimedOut, message: `${runner} timed out`, details: [details] });
  if (run.exitCode === 0) {
    return { outputs, summary: `${runner}: ${Object.keys(stats).length} host(s), ok=${sum.ok} changed=${sum.changed} skipped=${sum.skipped}`, logPath };
  }

  const taskFailures = failed.filter((entry) => !entry.unreachable);
  if (taskFailures.length > 0 || sum.failed > 0) {
    throw ApplicationFailure.create({ type: ANSIBLE_ERRORS.AnsibleTaskFailed, message: `${countLabel(taskFailures.length || sum.failed, 'task')} failed: ${describeFailures(taskFailures)}`, details: [details] });
  }
  if (sum.unreachable > 0 || failed.length > 0) {
    const hosts = Object.entries(stats).filter(([, host]) => host.unreachable > 0).map(([name]) => name);
    throw ApplicationFailure.create({ type: ANSIBLE_ERRORS.AnsibleHostUnreachable, message: `unreachable: ${hosts.join(', ') || '?'}${failed[0] ? ` (${failed[0].message})` : ''}`, details: [details] });
  }
  // No task ran: ansible stopped while loading the playbook, inventory or options.
  const errorLine = ansibleErrorLine(`${run.stderrTail}\n${run.stdoutTail}`);
  if (noTaskRan(stats) && (run.exitCode === 4 || run.exitCode === 5 || errorLine !== undefined)) {
    throw ApplicationFailure.create({ type: ANSIBLE_ERRORS.AnsiblePlaybookInvalid, nonRetryable: true, message: `${runner} exit ${run.exitCode ?? '?'}: ${errorLine ?? lastLine(run)}`, details: [details] });
  }
  throw ApplicationFailure.create({ type: ANSIBLE_ERRORS.AnsibleFailed, message: `${runner} exit ${run.exitCode ?? run.signal ?? '?'}: ${errorLine ?? lastLine(run)}`, details: [details] });
}

/**
 * The worker's secret scope has already put the vault password in place of the author's reference,
 * so that field is checked here: it must be a value resolved from a reference the DAG author wrote,
 * never text that arrived through a param, a payload or an output.
 */
function parseAnsibleInput(inv: ActionInvocation<z.input<typeof AnsiblePlaybookInput>>): AnsiblePlaybookInput {
  const { vaultPasswordSecret: password, ...rest } = inv.with;
  const refused = (why: string): never => {
    throw ApplicationFailure.create({ type: INVALID_ACTION_INPUT, nonRetryable: true, message: `invalid input for ansible.playbook: with.vaultPasswordSecret: ${why}` });
  };
  if (password !== undefined && !(inv.secrets ?? []).includes(password)) {
    refused(isSecretReference(password) ? 'must be a secret reference written in the DAG file, not a value from params, payloads or outputs' : 'must be a secret reference: secret://env/NAME, secret://file/PATH or secret://vault/PATH#KEY');
  }
  const input = parseActionInput('ansible.playbook', AnsiblePlaybookInput.omit({ vaultPasswordSecret: true }), rest);
  return password === undefined ? input : { ...input, vaultPasswordSecret: password };
}

function noTaskRan(stats: Record<string, HostStats>): boolean {
  const sum = totals(stats);
  return sum.ok + sum.changed + sum.failed + sum.unreachable + sum.skipped === 0;
}

function describeFailures(failed: readonly FailedTask[]): string {
  const shown = failed.slice(0, 3).map((entry) => `[${entry.host}] ${entry.task} (${entry.module}): ${entry.message}`);
  return `${shown.join('; ')}${failed.length > 3 ? `; and ${failed.length - 3} more` : ''}`;
}

function countLabel(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function lastLine(run: ToolRunResult): string {
  const text = stripAnsi(`${run.stdoutTail}\n${run.stderrTail}`);
  return text.split('\n').map((line) => line.trim()).filter(Boolean).at(-1)?.slice(0, 300) ?? 'no output';
}

function requireFile(deps: RepoFileDeps, dagId: string, file: string, what: string, repoDir?: string): string {
  const found = resolveRepoFile(deps, dagId, file, repoDir);
  if (found.ok) return found.path;
  throw ApplicationFailure.create({ type: ANSIBLE_ERRORS.AnsibleFileNotFound, nonRetryable: true, message: `${what}: ${found.reason}` });
}

/** Inline lists ("a,b," or an array) pass through; anything else is an inventory file or directory. */
function inventoryArg(deps: RepoFileDeps, dagId: string, inventory: string | string[] | undefined, repoDir?: string): string | undefined {
  if (inventory === undefined) return undefined;
  if (Array.isArray(inventory)) return inlineHosts(inventory.join(','));
  if (inventory.includes(',')) return inlineHosts(inventory);
  return requireFile(deps, dagId, inventory, 'inventory', repoDir);
}

/**
 * An inline host list, whose names Ansible hands to ssh as arguments: a name starting with "-"
 * would be read as an ssh option (-oProxyCommand=… runs a command), so names are refused that
 * start with "-" or hold whitespace.
 */
function inlineHosts(list: string): string {
  const bad = list.split(',').map((host) => host.trim()).find((host) => host.startsWith('-') || /\s/.test(host));
  if (bad !== undefined) {
    throw ApplicationFailure.create({ type: INVALID_ACTION_INPUT, nonRetryable: true, message: `invalid input for ansible.playbook: with.inventory: host ${JSON.stringify(bad)} must not start with "-" or contain whitespace` });
  }
  return list.endsWith(',') ? list : `${list},`;
}

async function chooseRunner(wanted: AnsiblePlaybookInput['runner'], needsNavigator: boolean): Promise<[Runner, string]> {
  const candidates: Runner[] = wanted === 'auto' ? (needsNavigator ? ['ansible-navigator'] : ['ansible-navigator', 'ansible-playbook']) : [wanted];
  // On a first run the tools may still be installing in the background (npm start): wait for them, heartbeating.
  const first = await findToolWhenInstalled(candidates[0] as Runner, {
    signal: Context.current().cancellationSignal,
    onWait: (status) => heartbeat({ waitingForInstall: candidates[0], installing: status.current ?? null }),
  }).catch((error: unknown) => {
    if (error instanceof ToolInstallTimeoutError) throw ApplicationFailure.create({ type: ANSIBLE_ERRORS.AnsibleNotInstalled, nonRetryable: true, message: error.message });
    throw error;
  });
  if (first !== undefined) return [candidates[0] as Runner, first];
  for (const candidate of candidates.slice(1)) {
    const found = findTool(candidate);
    if (found !== undefined) return [candidate, found];
  }
  throw ApplicationFailure.create({
    type: ANSIBLE_ERRORS.AnsibleNotInstalled,
    nonRetryable: true,
    message: `${candidates.join(' or ')} is not installed on this worker; run \`bash infra/setup.sh\` (see \`qubinode doctor\`)`,
  });
}
