// Pure module: the input of `host.network-change` and its definition; the workflow that carries it out validates with it too.
import { z } from 'zod';
import type { ActionDefinition } from './action-definition';
import { actionNonRetryable, type FailureType } from './failure-types';
import { durationError, parseDuration } from '../schema/duration';

/** The shortest and longest time a host may be given to reconnect and confirm a network change. */
export const CONFIRM_WITHIN_MIN_MS = 5_000;
export const CONFIRM_WITHIN_MAX_MS = 30 * 60_000;
/** Bounds that keep a change and its revert small enough to read and to store in the host's state file. */
export const MAX_STEPS = 32;
export const MAX_ARGS = 64;
export const MAX_ARG_LENGTH = 4_096;

/** Failure type of a network change that was rolled back (by the timer, a failed apply step or a failed check). */
export const NETWORK_CHANGE_REVERTED = 'NetworkChangeReverted' satisfies FailureType;
/** Failure type when the host never reported after its change (its revert timer was armed; what it did is unknown). */
export const NETWORK_CHANGE_UNCONFIRMED = 'NetworkChangeUnconfirmed' satisfies FailureType;
/** Failure type when `checkpoint: nmcli` is asked for on a host without NetworkManager. */
export const CHECKPOINT_UNAVAILABLE = 'CheckpointUnavailable' satisfies FailureType;

const Argument = z.string().max(MAX_ARG_LENGTH, `an argument may be at most ${MAX_ARG_LENGTH} characters`).refine((text) => !text.includes('\0'), 'an argument cannot contain a NUL character');

/**
 * One command as argv: a program and its arguments, run without a shell. Values stay data: `--`
 * or `;` in an argument is just that argument.
 */
export const Argv = z
  .array(Argument, { error: 'must be a list of strings (program and arguments), e.g. ["nmcli", "con", "up", "br0"]; a shell string is not accepted' })
  .min(1, 'must name a program')
  .max(MAX_ARGS, `at most ${MAX_ARGS} arguments`)
  .refine((argv) => argv[0] !== undefined && argv[0].trim() !== '', { message: 'the program name cannot be empty', path: [0] })
  .describe('A program and its arguments, run without a shell.');

const Steps = (what: string) =>
  z
    .array(Argv, { error: `must be a list of commands, each a list of strings: [["ip", "link", "set", "eth0", "up"]]` })
    .min(1, `${what} needs at least one command`)
    .max(MAX_STEPS, `at most ${MAX_STEPS} commands`);

const ConfirmWithin = z
  .string()
  .superRefine((text, ctx) => {
    const error = durationError(text);
    if (error !== undefined) {
      ctx.addIssue({ code: 'custom', message: error });
      return;
    }
    const ms = parseDuration(text);
    if (ms < CONFIRM_WITHIN_MIN_MS || ms > CONFIRM_WITHIN_MAX_MS) ctx.addIssue({ code: 'custom', message: `must be between 5s and 30m, got ${text}` });
  })
  .describe('How long the host has, after the change, to reconnect to Temporal and confirm it (5s..30m); the change is reverted otherwise.');

/** Inputs of `host.network-change`: a change on the host that reverts by itself unless the host's worker reconnects and confirms in time. */
export const NetworkChangeInput = z.strictObject({
  apply: Steps('apply').describe('Commands that make the change, run in order on the host; the first that fails stops them and the change is reverted at once.'),
  revert: Steps('revert').describe('Commands that undo the change, run in order (all of them, whatever each exits with) when the change is not confirmed in time, an apply command fails or the check fails.'),
  confirmWithin: ConfirmWithin.default('2m'),
  check: Argv.optional().describe('A command run on the host after it reconnected; it must succeed for the change to be confirmed.'),
  checkpoint: z
    .enum(['auto', 'nmcli', 'timer'])
    .default('auto')
    .describe('timer: a revert timer the action arms on the host; nmcli: a NetworkManager checkpoint (refused where NetworkManager is not running); auto: nmcli where NetworkManager runs, else timer.'),
});
export type NetworkChangeInput = z.infer<typeof NetworkChangeInput>;

/** The network actions; the registry spreads this into BUILTIN_ACTIONS. */
export const NETWORK_ACTIONS: readonly ActionDefinition[] = [
  {
    name: 'host.network-change',
    description:
      'Change the host\'s network (apply: argv commands) under a checkpoint that reverts it (revert: argv commands) unless the host\'s worker reconnects and confirms within confirmWithin; optional check must pass to confirm.',
    input: NetworkChangeInput,
    execution: { kind: 'workflow', workflow: 'networkChange', hostActivities: ['networkChangeApply', 'networkChangeConfirm', 'networkChangeReport'] },
    nonRetryableErrors: actionNonRetryable('networkChange'),
    // How long the workflow waits for a host that was cut off to report what its timer did.
    defaultTimeoutMs: 30 * 60_000,
  },
];
