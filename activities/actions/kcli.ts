import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import * as path from 'node:path';
import { sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { taskLogPath } from '../../config/log-layout';
import { findToolWhenInstalled, toolPath } from '../../config/tool-paths';
import { ToolInstallTimeoutError } from '../../config/tool-install';
import { Context } from '@temporalio/activity';
import {
  KcliNetworkCreateInput, KcliNetworkDeleteInput, KcliPlanCreateInput, KcliPlanDeleteInput, KcliPoolCreateInput, KcliPoolDeleteInput,
  KcliVmCreateInput, KcliVmDeleteInput, KcliVmInfoInput, KcliVmListInput, KcliVmNameInput,
} from '../../dag-repos/actions/kcli-input';
import { parseDuration } from '../../dag-repos/schema/duration';
import { INVALID_ACTION_INPUT, parseActionInput } from './action-input';
import type { ActionInvocation, ActionResult } from '../../dag-repos/actions/action-types';
import { kcliMessage, namesOf, normaliseVm, parseKcliJson, plansOf, type KcliVm } from './kcli-parse';
import { resolveRepoFile, type RepoFileDeps } from '../process/repo-files';
import { heartbeat } from '../process/secret-scope';
import { runTool, type ToolRunResult } from '../process/tool-process';
import { nonRetryableOf, type FailureType } from '../../dag-repos/actions/failure-types';

export const KCLI_ERRORS = {
  InvalidActionInput: INVALID_ACTION_INPUT,
  KcliNotInstalled: 'KcliNotInstalled',
  KcliFileNotFound: 'KcliFileNotFound',
  /** ifExists: fail, and it exists. */
  KcliAlreadyExists: 'KcliAlreadyExists',
  /** The VM/plan/network/pool to act on does not exist (and ifMissing is fail, or the action needs it). */
  KcliNotFound: 'KcliNotFound',
  /** kcli exited non-zero: libvirt hiccups and busy hosts are worth a retry. */
  KcliCommandFailed: 'KcliCommandFailed',
  /** kcli reported success but the object is not there (its create network/pool exit 0 on failure). */
  KcliCreateFailed: 'KcliCreateFailed',
  /** waitForIp expired without an address. */
  KcliNoIp: 'KcliNoIp',
  /** kcli refused the VM spec (unknown network, pool, image or profile): retrying cannot help. */
  KcliInvalidSpec: 'KcliInvalidSpec',
} as const satisfies Record<string, FailureType>;

export const KCLI_NON_RETRYABLE_ERRORS: readonly string[] = nonRetryableOf(Object.values(KCLI_ERRORS));

export interface KcliActivityDeps extends RepoFileDeps {
  logRoot: string;
  /** Environment for kcli (HOME / KCLI_CONFIG select its config); default: the worker's. */
  env?: NodeJS.ProcessEnv;
  /** Interval of waitForIp polls. */
  ipPollMs?: number;
  /** Pauses before asking kcli again when it says the image is missing (see MISSING_IMAGE). */
  imageRecheckMs?: readonly number[];
}

const NOT_FOUND = /not found|No objects found|doesn't exist|does not exist/i;
/** What kcli says when a VM spec names something that does not exist ("Invalid network default"). */
const INVALID_SPEC = /Invalid (network|pool|image|profile|flavor|cpumodel)|(image|profile|pool) \S+ not found|you don't have image/i;
/**
 * kcli answers "you don't have image X" whenever refreshing the VM's pool fails, and libvirt refuses a
 * refresh while another VM's disk is being created in that pool: two creates at once in one pool can
 * lose this race. Asking again after a pause tells a busy pool from an image that is really missing.
 */
const MISSING_IMAGE = /you don't have image/i;
const MISSING_IMAGE_RECHECK_MS = [2_000, 5_000, 10_000] as const;

function fail(type: string, message: string, details?: Record<string, unknown>): never {
  throw ApplicationFailure.create({ type, message, nonRetryable: KCLI_NON_RETRYABLE_ERRORS.includes(type), ...(details ? { details: [details] } : {}) });
}

export function createKcliActivities(deps: KcliActivityDeps) {
  const kcli = async (inv: ActionInvocation, client: string | undefined, args: string[]): Promise<ToolRunResult> => {
    // On a first run kcli may still be installing in the background (npm start): wait for it, heartbeating.
    const installed = await findToolWhenInstalled('kcli', {
      signal: Context.current().cancellationSignal,
      onWait: (status) => heartbeat({ waitingForInstall: 'kcli', installing: status.current ?? null }),
    }).catch((error: unknown) => (error instanceof ToolInstallTimeoutError ? fail(KCLI_ERRORS.KcliNotInstalled, error.message) : Promise.reject(error)));
    const program = installed ?? fail(KCLI_ERRORS.KcliNotInstalled, 'kcli is not installed on this worker; run `bash infra/setup.sh` (see `qubinode doctor`)');
    const env = deps.env ?? process.env;
    const result = await runTool({
      file: program,
      args: [...(client === undefined ? [] : ['-C', client]), ...args],
      env: { ...env, PATH: toolPath(env), NO_COLOR: '1', PYTHONUNBUFFERED: '1' },
      logPath: taskLogPath(deps.logRoot, inv.runId, inv.taskId, inv.itemIndex),
      // Resolved by the worker's secret scope: whatever the action received, its output never shows.
      secrets: inv.secrets ?? [],
      keepStdout: true,
      details: () => ({ kcli: args.slice(0, 3).join(' ') }),
    });
    if (result.spawnError !== undefined) fail(KCLI_ERRORS.KcliNotInstalled, `cannot run kcli: ${result.spawnError}`);
    return result;
  };
  const failed = (what: string, result: ToolRunResult): never =>
    fail(KCLI_ERRORS.KcliCommandFailed, `${what}: exit ${result.exitCode ?? result.signal ?? '?'}: ${kcliMessage(result.stdout ?? '', result.stderrTail)}`, { stdoutTail: result.stdoutTail, stderrTail: result.stderrTail });
  const logPathOf = (inv: ActionInvocation): string => taskLogPath(deps.logRoot, inv.runId, inv.taskId, inv.itemIndex);

  const vmInfo = async (inv: ActionInvocation, name: string, client?: string): Promise<KcliVm | undefined> => {
    const result = await kcli(inv, client, ['info', 'vm', name, '-o', 'json']);
    if (result.exitCode !== 0) return NOT_FOUND.test(kcliMessage(result.stdout ?? '', result.stderrTail)) ? undefined : failed(`kcli info vm ${name}`, result);
    return normaliseVm(parseKcliJson(result.stdout ?? '')) ?? fail(KCLI_ERRORS.KcliCommandFailed, `kcli info vm ${name}: output is not a VM document`);
  };
  const listNames = async (inv: ActionInvocation, kind: 'network' | 'pool', client?: string): Promise<string[]> => {
    const result = await kcli(inv, client, ['list', kind, '-o', 'json']);
    if (result.exitCode !== 0) failed(`kcli list ${kind}`, result);
    return namesOf(parseKcliJson(result.stdout ?? ''));
  };
  const listPlans = async (inv: ActionInvocation, client?: string): Promise<{ plan: string; vms: string[] }[]> => {
    const result = await kcli(inv, client, ['list', 'plan', '-o', 'json']);
    if (result.exitCode !== 0) failed('kcli list plan', result);
    return plansOf(parseKcliJson(result.stdout ?? ''));
  };
  const deleteVm = async (inv: ActionInvocation, name: string, client?: string): Promise<boolean> => {
    const result = await kcli(inv, client, ['delete', 'vm', '-y', name]);
    if (result.exitCode === 0) return true;
    return NOT_FOUND.test(kcliMessage(result.stdout ?? '', result.stderrTail)) ? false : failed(`kcli delete vm ${name}`, result);
  };
  /** kcli reads -P values as YAML; a JSON parameter file (JSON is YAML) avoids quoting and keeps values off the command line. */
  const withParamFile = async <T>(params: Record<string, unknown>, use: (file: string) => Promise<T>): Promise<T> => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'qubinode-kcli-'));
    try {
      const file = path.join(dir, 'params.yml');
      await writeFile(file, JSON.stringify(params), { mode: 0o600 });
      return await use(file);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };

  return {
    async kcliVmCreate(inv: ActionInvocation<z.input<typeof KcliVmCreateInput>>): Promise<ActionResult> {
      const input = parseActionInput('kcli.vm.create', KcliVmCreateInput, inv.with);
      const existing = await vmInfo(inv, input.name, input.client);
      if (existing !== undefined) {
        if (input.ifExists === 'skip') return { outputs: { ...existing, created: false }, summary: `VM ${input.name} already exists (${existing.state}); skipped`, logPath: logPathOf(inv) };
        if (input.ifExists === 'fail') fail(KCLI_ERRORS.KcliAlreadyExists, `VM ${input.name} already exists (${existing.state}); set ifExists: skip or replace`);
        await deleteVm(inv, input.name, input.client);
      }
      const cloud = input.cloudInit;
      const params: Record<string, unknown> = {
        ...(input.memory === undefined ? {} : { memory: input.memory }),
        ...(input.cpus === undefined ? {} : { numcpus: input.cpus }),
        ...(input.disks === undefined ? {} : { disks: input.disks }),
        ...(input.nets === undefined ? {} : { nets: input.nets }),
        ...(input.pool === undefined ? {} : { pool: input.pool }),
        cloudinit: cloud?.enabled ?? input.image !== undefined,
        ...(cloud?.cmds === undefined ? {} : { cmds: cloud.cmds }),
        ...(cloud?.keys === undefined ? {} : { keys: cloud.keys }),
        ...(cloud?.files === undefined ? {} : { files: cloud.files }),
        start: input.start,
        ...input.params,
      };
      const source = input.image !== undefined ? ['-i', input.image] : input.profile !== undefined ? ['-p', input.profile] : [];
      const create = (): Promise<ToolRunResult> => withParamFile(params, (file) => kcli(inv, input.client, ['create', 'vm', '--pf', file, ...source, input.name]));
      let result = await create();
      for (const pause of deps.imageRecheckMs ?? MISSING_IMAGE_RECHECK_MS) {
        if (result.exitCode === 0 || !MISSING_IMAGE.test(kcliMessage(result.stdout ?? '', result.stderrTail))) break;
        heartbeat({ recheckingImage: input.image ?? null, pauseMs: pause });
        await sleep(pause);
        result = await create();
      }
      if (result.exitCode !== 0) {
        // kcli can leave a defined but broken domain behind; remove it so a retry starts clean.
        if ((await vmInfo(inv, input.name, input.client)) !== undefined) await deleteVm(inv, input.name, input.client);
        const message = kcliMessage(result.stdout ?? '', result.stderrTail);
        if (INVALID_SPEC.test(message)) fail(KCLI_ERRORS.KcliInvalidSpec, `kcli create vm ${input.name}: ${message}`);
        failed(`kcli create vm ${input.name}`, result);
      }
      const vm = (await vmInfo(inv, input.name, input.client)) ?? fail(KCLI_ERRORS.KcliCreateFailed, `kcli create vm ${input.name} exited 0 but the VM does not exist: ${kcliMessage(result.stdout ?? '', result.stderrTail)}`);
      return { outputs: { ...vm, created: true }, summary: `VM ${vm.name} created (${vm.state})`, logPath: logPathOf(inv) };
    },

    async kcliVmDelete(inv: ActionInvocation<z.input<typeof KcliVmDeleteInput>>): Promise<ActionResult> {
      const input = parseActionInput('kcli.vm.delete', KcliVmDeleteInput, inv.with);
      const deleted = await deleteVm(inv, input.name, input.client);
      if (!deleted && input.ifMissing === 'fail') fail(KCLI_ERRORS.KcliNotFound, `VM ${input.name} does not exist`);
      return { outputs: { name: input.name, deleted }, summary: deleted ? `VM ${input.name} deleted` : `VM ${input.name} did not exist`, logPath: logPathOf(inv) };
    },

    async kcliVmList(inv: ActionInvocation<z.input<typeof KcliVmListInput>>): Promise<ActionResult> {
      const input = parseActionInput('kcli.vm.list', KcliVmListInput, inv.with);
      const result = await kcli(inv, input.client, ['list', 'vm', '-o', 'json']);
      if (result.exitCode !== 0) failed('kcli list vm', result);
      const listing = parseKcliJson(result.stdout ?? '');
      const vms = (Array.isArray(listing) ? listing : []).map(normaliseVm).filter((vm): vm is KcliVm => vm !== undefined);
      return { outputs: { vms, names: vms.map((vm) => vm.name), count: vms.length }, summary: `${vms.length} VM(s)`, logPath: logPathOf(inv) };
    },

    async kcliVmInfo(inv: ActionInvocation<z.input<typeof KcliVmInfoInput>>): Promise<ActionResult> {
      const input = parseActionInput('kcli.vm.info', KcliVmInfoInput, inv.with);
      const deadline = input.waitForIp === undefined ? undefined : Date.now() + parseDuration(input.waitForIp);
      for (;;) {
        const vm = (await vmInfo(inv, input.name, input.client)) ?? fail(KCLI_ERRORS.KcliNotFound, `VM ${input.name} does not exist`);
        if (deadline === undefined || vm.ip !== null) return { outputs: { ...vm }, summary: `VM ${vm.name} ${vm.state}${vm.ip ? ` at ${vm.ip}` : ''}`, logPath: logPathOf(inv) };
        if (Date.now() >= deadline) fail(KCLI_ERRORS.KcliNoIp, `VM ${vm.name} (${vm.state}) has no IP address after ${input.waitForIp ?? '?'}`, { vm });
        heartbeat({ waitingForIp: vm.name, state: vm.state });
        await sleep(Math.min(deps.ipPollMs ?? 5_000, Math.max(0, deadline - Date.now())));
      }
    },

    async kcliVmStart(inv: ActionInvocation<z.input<typeof KcliVmNameInput>>): Promise<ActionResult> {
      return startStop(inv, 'start');
    },
    async kcliVmStop(inv: ActionInvocation<z.input<typeof KcliVmNameInput>>): Promise<ActionResult> {
      return startStop(inv, 'stop');
    },

    async kcliPlanCreate(inv: ActionInvocation<z.input<typeof KcliPlanCreateInput>>): Promise<ActionResult> {
      const input = parseActionInput('kcli.plan.create', KcliPlanCreateInput, inv.with);
      const file = resolveRepoFile(deps, inv.dagId, input.file, inv.repoDir);
      if (!file.ok) fail(KCLI_ERRORS.KcliFileNotFound, `plan file: ${file.reason}`);
      const existing = (await listPlans(inv, input.client)).find((entry) => entry.plan === input.plan);
      if (existing !== undefined) {
        if (input.ifExists === 'skip') return { outputs: { plan: input.plan, vms: existing.vms, created: false }, summary: `plan ${input.plan} already exists; skipped`, logPath: logPathOf(inv) };
        if (input.ifExists === 'fail') fail(KCLI_ERRORS.KcliAlreadyExists, `plan ${input.plan} already exists (VMs: ${existing.vms.join(', ') || 'none'}); set ifExists: skip or replace`);
        const removed = await kcli(inv, input.client, ['delete', 'plan', '-y', input.plan]);
        if (removed.exitCode !== 0) failed(`kcli delete plan ${input.plan}`, removed);
      }
      const result = await withParamFile(input.params ?? {}, (params) => kcli(inv, input.client, ['create', 'plan', '-f', file.path, '--pf', params, input.plan]));
      if (result.exitCode !== 0) failed(`kcli create plan ${input.plan}`, result);
      const created = (await listPlans(inv, input.client)).find((entry) => entry.plan === input.plan);
      if (created === undefined) fail(KCLI_ERRORS.KcliCreateFailed, `kcli create plan ${input.plan} exited 0 but no plan exists: ${kcliMessage(result.stdout ?? '', result.stderrTail)}`);
      return { outputs: { plan: input.plan, vms: created.vms, created: true }, summary: `plan ${input.plan}: ${created.vms.length} VM(s)`, logPath: logPathOf(inv) };
    },

    async kcliPlanDelete(inv: ActionInvocation<z.input<typeof KcliPlanDeleteInput>>): Promise<ActionResult> {
      const input = parseActionInput('kcli.plan.delete', KcliPlanDeleteInput, inv.with);
      const result = await kcli(inv, input.client, ['delete', 'plan', '-y', input.plan]);
      // kcli exits 4 when the plan has nothing to delete.
      if (result.exitCode !== 0) {
        if (!NOT_FOUND.test(kcliMessage(result.stdout ?? '', result.stderrTail))) failed(`kcli delete plan ${input.plan}`, result);
        if (input.ifMissing === 'fail') fail(KCLI_ERRORS.KcliNotFound, `plan ${input.plan} does not exist`);
        return { outputs: { plan: input.plan, deleted: false }, summary: `plan ${input.plan} did not exist`, logPath: logPathOf(inv) };
      }
      return { outputs: { plan: input.plan, deleted: true }, summary: `plan ${input.plan} deleted`, logPath: logPathOf(inv) };
    },

    async kcliNetworkCreate(inv: ActionInvocation<z.input<typeof KcliNetworkCreateInput>>): Promise<ActionResult> {
      const input = parseActionInput('kcli.network.create', KcliNetworkCreateInput, inv.with);
      const args = ['create', 'network', '-c', input.cidr, ...(input.nat ? [] : ['-i']), ...(input.dhcp ? [] : ['--nodhcp']), ...(input.domain === undefined ? [] : ['--domain', input.domain]), input.name];
      return createVerified(inv, 'network', input.name, input.ifExists, input.client, args, { cidr: input.cidr, nat: input.nat, dhcp: input.dhcp });
    },
    async kcliNetworkDelete(inv: ActionInvocation<z.input<typeof KcliNetworkDeleteInput>>): Promise<ActionResult> {
      const input = parseActionInput('kcli.network.delete', KcliNetworkDeleteInput, inv.with);
      return deleteVerified(inv, 'network', input.name, input.ifMissing, input.client);
    },
    async kcliPoolCreate(inv: ActionInvocation<z.input<typeof KcliPoolCreateInput>>): Promise<ActionResult> {
      const input = parseActionInput('kcli.pool.create', KcliPoolCreateInput, inv.with);
      return createVerified(inv, 'pool', input.name, input.ifExists, input.client, ['create', 'pool', '-p', input.path, input.name], { path: input.path });
    },
    async kcliPoolDelete(inv: ActionInvocation<z.input<typeof KcliPoolDeleteInput>>): Promise<ActionResult> {
      const input = parseActionInput('kcli.pool.delete', KcliPoolDeleteInput, inv.with);
      return deleteVerified(inv, 'pool', input.name, input.ifMissing, input.client);
    },
  };

  async function startStop(inv: ActionInvocation, verb: 'start' | 'stop'): Promise<ActionResult> {
    const input = parseActionInput(`kcli.vm.${verb}`, KcliVmNameInput, inv.with);
    if ((await vmInfo(inv, input.name, input.client)) === undefined) fail(KCLI_ERRORS.KcliNotFound, `VM ${input.name} does not exist`);
    const result = await kcli(inv, input.client, [verb, 'vm', input.name]);
    if (result.exitCode !== 0) failed(`kcli ${verb} vm ${input.name}`, result);
    const vm = (await vmInfo(inv, input.name, input.client)) ?? fail(KCLI_ERRORS.KcliNotFound, `VM ${input.name} vanished`);
    return { outputs: { ...vm }, summary: `VM ${vm.name} ${vm.state}`, logPath: logPathOf(inv) };
  }

  /** kcli create network/pool exit 0 even when they fail: the listing decides. */
  async function createVerified(inv: ActionInvocation, kind: 'network' | 'pool', name: string, ifExists: 'skip' | 'fail', client: string | undefined, args: string[], extra: Record<string, unknown>): Promise<ActionResult> {
    if ((await listNames(inv, kind, client)).includes(name)) {
      if (ifExists === 'fail') fail(KCLI_ERRORS.KcliAlreadyExists, `${kind} ${name} already exists`);
      return { outputs: { name, ...extra, created: false }, summary: `${kind} ${name} already exists; skipped`, logPath: logPathOf(inv) };
    }
    const result = await kcli(inv, client, args);
    if (!(await listNames(inv, kind, client)).includes(name)) fail(KCLI_ERRORS.KcliCreateFailed, `${kind} ${name} was not created: ${kcliMessage(result.stdout ?? '', result.stderrTail)}`, { exitCode: result.exitCode });
    return { outputs: { name, ...extra, created: true }, summary: `${kind} ${name} created`, logPath: logPathOf(inv) };
  }

  async function deleteVerified(inv: ActionInvocation, kind: 'network' | 'pool', name: string, ifMissing: 'skip' | 'fail', client: string | undefined): Promise<ActionResult> {
    if (!(await listNames(inv, kind, client)).includes(name)) {
      if (ifMissing === 'fail') fail(KCLI_ERRORS.KcliNotFound, `${kind} ${name} does not exist`);
      return { outputs: { name, deleted: false }, summary: `${kind} ${name} did not exist`, logPath: logPathOf(inv) };
    }
    const result = await kcli(inv, client, ['delete', kind, '-y', name]);
    if ((await listNames(inv, kind, client)).includes(name)) failed(`kcli delete ${kind} ${name}`, result);
    return { outputs: { name, deleted: true }, summary: `${kind} ${name} deleted`, logPath: logPathOf(inv) };
  }
}
