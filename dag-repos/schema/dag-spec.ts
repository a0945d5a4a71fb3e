import { z } from 'zod';
import { durationError } from './duration';
import { DagTriggers, SecurityAllow } from './triggers';
import { MaintenanceWindow } from './maintenance-window';
import { NotifySpec, RollbackMode } from './rollback-notify';
import { secretUriProblemsIn } from './secret-uri';

/** The DAG file format, version 1. This schema is both the TypeScript type and the validator. */

const IDENTIFIER = /^[a-z0-9][a-z0-9_-]*$/i;

export const Duration = z
  .string()
  .superRefine((text, ctx) => {
    const error = durationError(text);
    if (error !== undefined) ctx.addIssue({ code: 'custom', message: error });
  })
  .describe('A duration: 500ms, 30s, 5m, 1h, 1d or a sum such as 1m30s.');

export const TaskId = z
  .string()
  .max(63)
  .regex(IDENTIFIER, { message: 'must start with a letter or digit and contain only letters, digits, "_" and "-"' })
  .describe('Task id, unique within the DAG; used in needs and in expressions (tasks.<id>.outputs).');

export const DagId = z
  .string()
  .max(100)
  .regex(/^[a-z0-9][a-z0-9._-]*$/i, { message: 'must start with a letter or digit and contain only letters, digits, ".", "_" and "-"' })
  .describe('DAG id, unique within its repository. The catalog id is <repo>/<id>.');

export const ParamType = z.enum(['string', 'integer', 'number', 'boolean', 'array', 'object']);
export type ParamType = z.infer<typeof ParamType>;

export const ParamSpec = z
  .object({
    type: ParamType.default('string').describe('Value type; CLI values (-p key=value) are converted to it.'),
    description: z.string().optional(),
    default: z
      .unknown()
      .optional()
      .superRefine((value, ctx) => {
        for (const { path, message } of secretUriProblemsIn(value)) ctx.addIssue({ code: 'custom', message, path });
      })
      .describe('Used when the caller gives no value; must satisfy the other rules. May be a secret:// reference.'),
    required: z.boolean().default(false).describe('A run without this param (and no default) is refused before it starts.'),
    enum: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1).optional(),
    pattern: z.string().optional().describe('Regular expression a string value must match (whole value), in RE2 syntax: no lookaround or backreferences, so matching always takes linear time.'),
    min: z.number().optional().describe('Minimum for numbers, minimum length for strings and arrays.'),
    max: z.number().optional().describe('Maximum for numbers, maximum length for strings and arrays.'),
    secret: z.boolean().default(false).describe('Masked in status output and logs.'),
  })
  .strict();
export type ParamSpec = z.infer<typeof ParamSpec>;

export const TriggerRule = z
  .enum(['all_success', 'all_done', 'none_failed', 'one_failed', 'one_success', 'always'])
  .describe(
    'When a task runs, given its upstream tasks: all_success (default) every upstream succeeded; ' +
      'all_done every upstream finished whatever its state; none_failed no upstream failed (skips allowed); ' +
      'one_failed at least one upstream failed; one_success at least one upstream succeeded; ' +
      'always runs once upstreams finished, even after the run was cancelled (clean-up).',
  );
export type TriggerRule = z.infer<typeof TriggerRule>;

export const RetrySpec = z
  .object({
    attempts: z.number().int().min(1).max(100).describe('Total attempts including the first.'),
    delay: Duration.default('1s').describe('Wait before the second attempt.'),
    backoff: z.number().min(1).max(10).default(2).describe('Multiplier applied to the delay after each attempt.'),
    maxDelay: Duration.optional(),
  })
  .strict();
export type RetrySpec = z.infer<typeof RetrySpec>;

/** A string holding `${{ expression }}` templates, or a plain value. */
const Templated = z.unknown();

/** An action's inputs; a string claiming to be a `secret://` reference must be one a worker can resolve. */
const ActionInputs = z.record(z.string(), Templated).superRefine((inputs, ctx) => {
  for (const { path, message } of secretUriProblemsIn(inputs)) ctx.addIssue({ code: 'custom', message, path });
});

export const ActionCall = z
  .object({
    uses: z.string().min(1).describe('Action name, e.g. shell, http.check, sleep, dag.'),
    with: ActionInputs.default({}).describe("The action's inputs; strings may hold ${{ }} expressions."),
  })
  .strict();
export type ActionCall = z.infer<typeof ActionCall>;

export const TaskSpec = z
  .object({
    id: TaskId,
    name: z.string().max(200).optional().describe('Display name shown in the UI and CLI.'),
    uses: z.string().min(1).describe('Action name, e.g. shell, http.check, sleep, dag.'),
    with: ActionInputs.default({}).describe("The action's inputs; strings may hold ${{ }} expressions."),
    needs: z
      .union([TaskId, z.array(TaskId)])
      .default([])
      .transform((value) => (typeof value === 'string' ? [value] : value))
      .describe('Upstream task ids.'),
    when: z.union([z.string(), z.boolean()]).optional().describe('Expression; the task is skipped when it is falsy.'),
    trigger: TriggerRule.default('all_success'),
    retry: z
      .union([z.number().int().min(1).max(100), RetrySpec])
      .optional()
      .describe('Attempts (a number) or a retry policy. Default: one attempt.'),
    timeout: Duration.optional().describe('Limit of one attempt.'),
    forEach: z
      .union([z.string(), z.array(z.unknown())])
      .optional()
      .describe('A list, or an expression giving one: the action runs once per item, with ${{ item }} bound.'),
    runsOn: z.string().min(1).optional().describe('Task queue of the worker that runs this task (e.g. a hypervisor host).'),
    compensate: ActionCall.optional().describe('Action that undoes this task, used by rollbacks.'),
    securityAllow: SecurityAllow.optional(),
  })
  .strict();
export type TaskSpec = z.infer<typeof TaskSpec>;

/** A host queue name as runsOn writes it literally. */
const HOST_QUEUE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** How a run treats the hosts its tasks run on (`runsOn`). */
export const HostsSpec = z
  .object({
    exclusive: z.boolean().default(true).describe('One job per host: this run waits until no other run holds its hosts, and holds them until it ends.'),
    workerWait: Duration.default('10m').describe('How long a task waits for a worker on its host before it fails with "host ... has no worker since ...".'),
    workerWaitFor: z
      .record(z.string(), Duration)
      .superRefine((limits, ctx) => {
        const hosts = Object.keys(limits);
        if (hosts.length > 200) ctx.addIssue({ code: 'custom', message: `at most 200 hosts, got ${hosts.length}` });
        for (const host of hosts.slice(0, 200)) {
          if (!HOST_QUEUE.test(host)) ctx.addIssue({ code: 'custom', path: [host], message: `${JSON.stringify(host.slice(0, 60))} is not a host queue (letters, digits, ".", "_" or "-")` });
        }
      })
      .default({})
      .describe('workerWait for particular hosts, by queue name.'),
  })
  .strict();
export type HostsSpec = z.infer<typeof HostsSpec>;

export const DagSpec = z
  .object({
    version: z.literal(1).default(1).describe('DAG file format version.'),
    id: DagId,
    description: z.string().default(''),
    params: z
      .record(z.string().regex(/^[a-z_][a-z0-9_]*$/i, { message: 'param names are identifiers (letters, digits, _)' }), ParamSpec)
      .default({}),
    tasks: z.array(TaskSpec).min(1, { message: 'a DAG needs at least one task' }),
    concurrency: z.number().int().min(1).max(1000).default(16).describe('Most tasks (and forEach items) running at once.'),
    timeout: Duration.optional().describe('Limit of the whole run.'),
    labels: z.record(z.string(), z.string()).default({}),
    on: DagTriggers.optional().describe('Pushes, schedules and webhooks that start this DAG.'),
    rollback: RollbackMode.optional(),
    notify: NotifySpec.optional(),
    maintenanceWindow: MaintenanceWindow.optional().describe('A run of this DAG starts its tasks only inside this weekly window; it waits for it and says so.'),
    hosts: HostsSpec.optional().describe('One job per host and how long to wait for a host\'s worker.'),
  })
  .strict();
export type DagSpec = z.infer<typeof DagSpec>;
export type DagSpecInput = z.input<typeof DagSpec>;
