// Pure schema module: the action registry imports it, so no side effects and no heavy imports.
import { z } from 'zod';
import { Duration } from '../schema/dag-spec';
import { MaintenanceWindow } from '../schema/maintenance-window';

/** Inputs of the `approval` and `rollout` actions (issue 5); those of `updates.*` are in updates-inputs.ts. */

export const ApprovalInput = z.strictObject({
  message: z.string().max(2000).optional().describe('What the approver is asked, shown in the status and notifications.'),
  approvers: z.array(z.string().min(1)).default([]).describe('Who may decide; empty means anyone who can reach the API.'),
  timeout: Duration.optional().describe('Decide automatically after this long (see onTimeout).'),
  onTimeout: z.enum(['approve', 'reject']).default('reject').describe('The outcome when the timeout passes; default reject.'),
});
export type ApprovalInput = z.infer<typeof ApprovalInput>;

const Percent = z.string().regex(/^(100|[1-9]?\d)%$/, { message: 'a percentage such as 25%' });
const CountOrPercent = z.union([z.number().int().min(0), Percent]);

export const RolloutTarget = z.union([
  z.string().min(1),
  z.strictObject({ name: z.string().min(1), queue: z.string().min(1).optional().describe('Task queue of the target (default: its name).') }),
]);

export const OutputThreshold = z.strictObject({
  min: z.number().optional(),
  max: z.number().optional(),
  equals: z.union([z.string(), z.number(), z.boolean()]).optional(),
});
export type OutputThreshold = z.infer<typeof OutputThreshold>;

/** The name of an action a rollout runs itself; the compiler checks it exists and is a single activity. */
const ActionName = z.string().regex(/^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/, { message: 'an action name, e.g. http.check' }).max(100);

export const RolloutCheck = z.strictObject({
  uses: ActionName.describe('An action run as one activity on the target queue: http.check, shell, a diag.* action (e.g. diag.resource_usage) or a plugin action; its outputs are what the thresholds read. Pinned with the plan at sync.'),
  with: z.record(z.string(), z.unknown()).default({}).describe('Inputs; "{target}" and "{queue}" are replaced per target. Runs on the target queue.'),
  thresholds: z
    .record(z.string(), OutputThreshold)
    .optional()
    .describe('Dotted paths into the check\'s outputs (e.g. "load.load1") with min/max/equals; a value outside fails the sample.'),
});
export type RolloutCheck = z.infer<typeof RolloutCheck>;

/** A small action run once by the rollout (blue-green switch / switch back). */
export const RolloutHook = z.strictObject({
  uses: ActionName.describe('An action run once as one activity (http.check, shell, noop or a plugin action). Pinned with the plan at sync.'),
  with: z.record(z.string(), z.unknown()).default({}),
});
export type RolloutHook = z.infer<typeof RolloutHook>;

export const RolloutInput = z.strictObject({
  dag: z.string().min(1).describe('The per-target step: a DAG run once per target with params target and queue (if it declares them).'),
  params: z.record(z.string(), z.unknown()).default({}).describe('Further params of the step DAG.'),
  targets: z.array(RolloutTarget).min(1).describe('Hosts/VMs: names (queue = name) or {name, queue}.'),
  strategy: z.enum(['canary', 'blue-green', 'rolling', 'all-at-once']).default('rolling'),
  steps: z.array(CountOrPercent).min(1).optional().describe('canary: cumulative share of targets per step, e.g. [1, 25%, 100%].'),
  batchSize: CountOrPercent.default(1).describe('rolling: targets per batch.'),
  maxUnavailable: CountOrPercent.default(1).describe('rolling: most targets being changed at once.'),
  pause: Duration.optional().describe('Wait between steps/batches.'),
  approveBetween: z.boolean().default(false).describe('Wait for an approval (qubinode approve RUN TASK) between steps/batches.'),
  approvers: z.array(z.string().min(1)).default([]),
  failureThreshold: CountOrPercent.default(0).describe('Failed targets tolerated; one more halts the rollout and rolls back.'),
  maxErrorRate: Percent.optional().describe('Halt when more than this share of one batch failed.'),
  stepTimeout: Duration.optional().describe('A target whose step takes longer is cancelled and counts as failed.'),
  analysis: z
    .strictObject({
      checks: z.array(RolloutCheck).min(1),
      samples: z.number().int().min(1).max(100).default(1).describe('How many times each check runs per target and batch.'),
      interval: Duration.default('1s').describe('Pause between samples.'),
      maxFailures: z.number().int().min(0).default(0).describe('Failed samples tolerated per batch; more halts the rollout.'),
    })
    .optional()
    .describe('Health analysis after every batch.'),
  switch: RolloutHook.optional().describe('blue-green: moves traffic to the new targets.'),
  switchBack: RolloutHook.optional().describe('blue-green: moves traffic back during a rollback.'),
  rollbackWindow: Duration.optional().describe('blue-green: keep the old side this long after the switch; an abort or failed analysis in the window rolls back.'),
  maintenanceWindow: MaintenanceWindow.optional().describe('Start each batch only inside this weekly window; the rollout waits for it (a batch under way when it closes finishes).'),
});
export type RolloutInput = z.infer<typeof RolloutInput>;
