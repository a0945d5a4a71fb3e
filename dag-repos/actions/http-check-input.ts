// Pure schema module: the action registry imports it, so no side effects and no heavy imports.
import { z } from 'zod';
import { Duration } from '../schema/dag-spec';


const StatusCode = z.number().int().min(100).max(599);

/** Inputs of the `http.check` action: poll a URL until it answers as expected or the deadline passes. */
export const HttpCheckInput = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).describe('URL to poll.'),
  method: z.enum(['GET', 'HEAD', 'POST']).default('GET').describe('HTTP method; default GET.'),
  headers: z.record(z.string(), z.string()).optional().describe('Request headers (never written to logs).'),
  body: z.string().optional().describe('Request body, for POST.'),
  expectStatus: z
    .union([StatusCode, z.array(StatusCode).min(1)])
    .default([200])
    .describe('Status code, or list of codes, that counts as healthy; default [200].'),
  expectBody: z.string().min(1).optional().describe('Substring the response body must contain.'),
  expectJson: z
    .record(z.string(), z.unknown())
    .optional()
    .describe('Each key is a dotted path into the JSON body (e.g. "status" or "checks.0.ok"); its value must equal the given value.'),
  interval: Duration.default('2s').describe('Pause between attempts; default 2s.'),
  timeout: Duration.default('60s').describe('Overall deadline for polling; default 60s.'),
  requestTimeout: Duration.default('10s').describe('Deadline of each request; default 10s.'),
}).superRefine((input, ctx) => {
  if (input.body !== undefined && input.method !== 'POST') {
    ctx.addIssue({ code: 'custom', message: `a body needs method POST, not ${input.method}`, path: ['body'] });
  }
  if (input.method === 'HEAD') {
    for (const key of ['expectBody', 'expectJson'] as const) {
      if (input[key] !== undefined) ctx.addIssue({ code: 'custom', message: 'HEAD responses have no body', path: [key] });
    }
  }
});

export type HttpCheckInput = z.infer<typeof HttpCheckInput>;
