import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { taskLogPath } from '../../config/log-layout';
import { findTool, toolPath } from '../../config/tool-paths';
import { HOST_REBOOT_FAILURES } from '../../dag-repos/actions/host-actions';
import { HostDrain } from '../../dag-repos/actions/host-reboot-input';
import { parseDuration } from '../../dag-repos/schema/duration';
import { parseActionInput } from './action-input';
import { parseKcliJson, normaliseVm } from './kcli-parse';
import { runTool, type ToolRunResult } from '../process/tool-process';

/**
 * Draining a hypervisor before its reboot: its guests shut down (powered off after a grace period) or
 * live-migrate away, with virsh or kcli, argv only. What was stopped is reported so that the same guests,
 * and only those, start again once the host is back.
 */

/** Where one task's drain logs: the task's own log file on the host. */
export interface DrainTask {
  runId: string;
  taskId: string;
  itemIndex?: number;
}

export interface DrainRequest extends DrainTask {
  drain: HostDrain;
}

export interface DrainResult {
  /** Guests shut down here (by themselves or powered off): started again after the reboot. */
  stopped: string[];
  /** Of those, the ones that did not shut down within the grace period and were powered off. */
  forced: string[];
  /** Guests moved to drain.migrateTo. */
  migrated: string[];
}

export interface GuestStartRequest extends DrainTask {
  tool: HostDrain['tool'];
  client?: string;
  guests: string[];
}

export interface HostDrainDeps {
  logRoot: string;
  /** Environment for virsh and kcli (kcli reads HOME / KCLI_CONFIG); default: the worker's. */
  env?: NodeJS.ProcessEnv;
  /** How often a shutting-down guest's state is read. */
  pollMs?: number;
}

function drainFailure(message: string, result?: ToolRunResult): never {
  throw ApplicationFailure.create({
    type: HOST_REBOOT_FAILURES.drainFailed,
    message,
    // A libvirt that answers badly once may answer on the next attempt; the list so far rides in the heartbeat.
    nonRetryable: false,
    ...(result ? { details: [{ exitCode: result.exitCode, stdoutTail: result.stdoutTail, stderrTail: result.stderrTail }] } : {}),
  });
}

/** The guest tool as argv: virsh, or kcli with its client. */
function toolCommand(tool: HostDrain['tool'], env: NodeJS.ProcessEnv, client: string | undefined): { file: string; prefix: string[] } {
  const file = findTool(tool, env);
  if (file === undefined) throw ApplicationFailure.create({ type: HOST_REBOOT_FAILURES.drainFailed, nonRetryable: true, message: `${tool} is not installed on this host` });
  return { file, prefix: tool === 'kcli' && client !== undefined ? ['-C', client] : [] };
}

export function createHostDrainActivities(deps: HostDrainDeps) {
  const env = (): NodeJS.ProcessEnv => {
    const base = deps.env ?? process.env;
    return { ...base, PATH: toolPath(base), NO_COLOR: '1', LC_ALL: 'C' };
  };
  const pollMs = deps.pollMs ?? 2_000;

  const runner = (task: DrainTask, tool: HostDrain['tool'], client: string | undefined) => {
    const command = toolCommand(tool, env(), client);
    return (args: string[]): Promise<ToolRunResult> =>
      runTool({ file: command.file, args: [...command.prefix, ...args], env: env(), logPath: taskLogPath(deps.logRoot, task.runId, task.taskId, task.itemIndex), secrets: [], keepStdout: true, timeoutMs: 5 * 60_000 });
  };

  return {
    /** Drains the host's guests as the DAG asked; resumes from its heartbeat when retried. */
    async hostDrain(request: DrainRequest): Promise<DrainResult> {
      const drain = parseActionInput('host.reboot', HostDrain, request.drain);
      const ctx = Context.current();
      const resumed = (ctx.info.heartbeatDetails ?? {}) as Partial<DrainResult>;
      const done: DrainResult = { stopped: [...(resumed.stopped ?? [])], forced: [...(resumed.forced ?? [])], migrated: [...(resumed.migrated ?? [])] };
      const beat = (): void => ctx.heartbeat(done);
      if (drain.mode === 'none') return done;
      const run = runner(request, drain.tool, drain.client);
      const running = async (): Promise<string[]> => {
        if (drain.tool === 'virsh') {
          const listed = await run(['list', '--name', '--state-running']);
          if (listed.exitCode !== 0) drainFailure('virsh list failed', listed);
          return (listed.stdout ?? '').split('\n').map((line) => line.trim()).filter(Boolean);
        }
        const listed = await run(['-o', 'json', 'list', 'vm']);
        if (listed.exitCode !== 0) drainFailure('kcli list vm failed', listed);
        const vms = parseKcliJson(listed.stdout ?? '');
        return (Array.isArray(vms) ? vms : []).map(normaliseVm).filter((vm) => vm?.running === true).map((vm) => vm?.name ?? '');
      };
      const up = new Set(await running());
      const handled = new Set([...done.stopped, ...done.migrated]);
      // Named guests that are not running are left alone: they are not started after the reboot either.
      const targets = (drain.guests === 'all' ? [...up] : drain.guests.filter((name) => up.has(name))).filter((name) => !handled.has(name));
      beat();
      for (const guest of targets) {
        if (drain.mode === 'migrate') {
          // --undefinesource/--persistent: the guest belongs to the other host from now on; it is not started here again.
          const moved = await run(['migrate', '--live', '--persistent', '--undefinesource', '--verbose', '--domain', guest, '--desturi', `qemu+ssh://${drain.migrateTo ?? ''}/system`]);
          if (moved.exitCode !== 0) drainFailure(`could not migrate ${guest} to ${drain.migrateTo ?? '?'}`, moved);
          done.migrated.push(guest);
          beat();
          continue;
        }
        const asked = await run(drain.tool === 'virsh' ? ['shutdown', '--domain', guest] : ['stop', 'vm', '--soft', guest]);
        if (asked.exitCode !== 0 && (await running()).includes(guest)) drainFailure(`could not ask ${guest} to shut down`, asked);
        const deadline = Date.now() + parseDuration(drain.grace);
        while (Date.now() < deadline && (await running()).includes(guest)) {
          beat();
          await Context.current().sleep(pollMs);
        }
        if ((await running()).includes(guest)) {
          const off = await run(drain.tool === 'virsh' ? ['destroy', '--domain', guest] : ['stop', 'vm', guest]);
          if (off.exitCode !== 0 && (await running()).includes(guest)) drainFailure(`could not power off ${guest}`, off);
          done.forced.push(guest);
        }
        done.stopped.push(guest);
        beat();
      }
      return done;
    },

    /** Starts the guests a drain stopped; ones already running count as started. */
    async hostGuestsStart(request: GuestStartRequest): Promise<{ started: string[] }> {
      const parsed = parseActionInput('host.reboot', HostDrain, { mode: 'shutdown', tool: request.tool, guests: request.guests, ...(request.client === undefined ? {} : { client: request.client }) });
      if (parsed.guests === 'all') return { started: [] };
      const run = runner(request, parsed.tool, parsed.client);
      const started: string[] = [];
      const failed: string[] = [];
      for (const guest of parsed.guests) {
        const result = await run(parsed.tool === 'virsh' ? ['start', '--domain', guest] : ['start', 'vm', guest]);
        const already = /already active|already running/i.test(`${result.stdoutTail}\n${result.stderrTail}`);
        if (result.exitCode === 0 || already) started.push(guest);
        else failed.push(guest);
        Context.current().heartbeat({ started });
      }
      if (failed.length > 0) drainFailure(`could not start ${failed.join(', ')} again after the reboot`);
      return { started };
    },
  };
}
