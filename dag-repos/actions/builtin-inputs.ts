import { z } from 'zod';
import { Duration } from '../schema/dag-spec';

/** Inputs of the built-in actions. Each schema is the action's contract, checked at compile time and again in the activity. */

export const ShellInput = z
  .object({
    command: z.array(z.string()).min(1).optional().describe('argv, run without a shell.'),
    script: z.string().min(1).optional().describe('Script text, run by `shell` (default /bin/bash) with errexit and pipefail.'),
    shell: z.string().min(1).default('/bin/bash'),
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().optional(),
    timeout: Duration.optional(),
    successCodes: z.array(z.number().int()).min(1).default([0]),
  })
  .strict()
  .refine((input) => (input.command === undefined) !== (input.script === undefined), {
    message: 'give exactly one of "command" (argv list) or "script"',
  });
export type ShellInput = z.infer<typeof ShellInput>;

const JsonValue: z.ZodType<unknown> = z.unknown();

export const HttpCheckInput = z
  .object({
    url: z.string().url().refine((url) => /^https?:\/\//.test(url), { message: 'must be an http:// or https:// URL' }),
    method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
    headers: z.record(z.string(), z.string()).default({}),
    body: z.string().optional(),
    expectStatus: z
      .union([z.number().int(), z.array(z.number().int()).min(1)])
      .default([200])
      .transform((value) => (Array.isArray(value) ? value : [value])),
    expectBody: z.string().optional().describe('Substring the response body must contain.'),
    expectJson: z.record(z.string(), JsonValue).optional().describe('Dotted path → expected value in the JSON body.'),
    interval: Duration.default('2s'),
    timeout: Duration.default('60s').describe('Give up polling after this long.'),
    requestTimeout: Duration.default('10s'),
  })
  .strict();
export type HttpCheckInput = z.infer<typeof HttpCheckInput>;

export const SleepInput = z.object({ duration: Duration }).strict();
export type SleepInput = z.infer<typeof SleepInput>;

export const DagCallInput = z
  .object({
    dag: z.string().min(1).describe('Catalog id (repo/dag) or the id of a DAG in the same repository.'),
    params: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type DagCallInput = z.infer<typeof DagCallInput>;

export const NoopInput = z.record(z.string(), z.unknown());
export type NoopInput = z.infer<typeof NoopInput>;
