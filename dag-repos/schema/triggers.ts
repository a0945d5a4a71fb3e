import { z } from 'zod';
import { MAX_GLOB_LENGTH } from './globs';

/** What starts a DAG besides a person: pushes, schedules, and signed webhook calls. */

export const PushTrigger = z
  .object({
    branches: z.array(z.string().min(1).max(MAX_GLOB_LENGTH)).default([]).describe('Branch globs (e.g. main, release/*); empty means the tracked branch.'),
    paths: z.array(z.string().min(1).max(MAX_GLOB_LENGTH)).default([]).describe('Path globs inside the repository; empty means any change.'),
    params: z.record(z.string(), z.unknown()).default({}).describe('Params for runs started by a push.'),
  })
  .strict();
export type PushTrigger = z.infer<typeof PushTrigger>;

export const OverlapPolicy = z.enum(['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all']);
export type OverlapPolicy = z.infer<typeof OverlapPolicy>;

export const ScheduleTrigger = z
  .object({
    cron: z
      .string()
      .regex(/^(@(yearly|annually|monthly|weekly|daily|hourly))$|^(\S+\s+){4}\S+$/, { message: 'must be a 5-field cron expression (min hour day month weekday) or @daily/@hourly/...' })
      .describe('Cron expression: minute hour day-of-month month day-of-week.'),
    timezone: z.string().min(1).default('UTC').describe('IANA time zone, e.g. Europe/Berlin.'),
    overlap: OverlapPolicy.default('skip').describe('What to do when the previous scheduled run is still going.'),
    params: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type ScheduleTrigger = z.infer<typeof ScheduleTrigger>;

/**
 * A DAG names the variable that holds its trigger secret, so the name is confined to a prefix: a
 * DAG file must not be able to make the API verify requests against QUBINODE_API_TOKEN, PATH or
 * any other variable that was never meant as a webhook secret.
 */
export const WEBHOOK_SECRET_ENV_PREFIX = 'QUBINODE_WEBHOOK_';
/** Shorter secrets are refused when a request arrives (the value is only known to the API host). */
export const WEBHOOK_SECRET_MIN_LENGTH = 32;

export const WebhookTrigger = z
  .object({
    secretEnv: z
      .string()
      .regex(/^QUBINODE_WEBHOOK_[A-Z0-9_]{1,64}$/, { message: `must be an environment variable named ${WEBHOOK_SECRET_ENV_PREFIX}<NAME> (capitals, digits, "_"), e.g. ${WEBHOOK_SECRET_ENV_PREFIX}PROVISION` })
      .describe(`Environment variable (on the API host) holding the HMAC secret of POST /trigger/<repo>/<dag>: named ${WEBHOOK_SECRET_ENV_PREFIX}<NAME>, its value at least ${WEBHOOK_SECRET_MIN_LENGTH} characters.`),
    params: z.record(z.string(), z.unknown()).default({}).describe('Params from the payload: values may use ${{ payload.x }}.'),
  })
  .strict();
export type WebhookTrigger = z.infer<typeof WebhookTrigger>;

export const DagTriggers = z
  .object({
    push: PushTrigger.optional(),
    schedule: z.union([ScheduleTrigger, z.array(ScheduleTrigger).min(1)]).optional().transform((value) => (value === undefined ? undefined : Array.isArray(value) ? value : [value])),
    webhook: WebhookTrigger.optional(),
  })
  .strict();
export type DagTriggers = z.infer<typeof DagTriggers>;

/** Per-task exceptions to the security scan, each with the reason a reviewer will read. */
export const SecurityAllow = z
  .array(
    z
      .object({
        rule: z.string().min(1).describe('Scanner rule id, e.g. dangerous-command.'),
        reason: z.string().min(10, { message: 'explain why (at least 10 characters)' }),
      })
      .strict(),
  )
  .describe('Findings of these scanner rules are accepted for this task.');
