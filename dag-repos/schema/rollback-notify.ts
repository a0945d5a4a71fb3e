// Pure schema module: dag-spec imports it, so no side effects and no heavy imports.
import { z } from 'zod';
import { SECRET_URI_FORMS, secretUriProblem } from './secret-uri';

/** DAG-level `rollback:` and `notify:` (issue 5): what happens when a run fails, and who hears about it. */

export const RollbackMode = z
  .enum(['auto', 'manual', 'none'])
  .describe(
    'auto: when the run fails or is aborted, the `compensate` actions of completed tasks run in reverse completion order; ' +
      'manual: only `qubinode rollback RUN` runs them; none (default): never.',
  );
export type RollbackMode = z.infer<typeof RollbackMode>;

export const NotifyEvent = z.enum(['failure', 'approval', 'success']);
export type NotifyEvent = z.infer<typeof NotifyEvent>;

const On = z.array(NotifyEvent).min(1).default(['failure', 'approval', 'success']).describe('Events sent to this channel; default all.');
/**
 * A channel value written as is (`plain`, a prefix such as `https?://`), or as a secret reference of
 * any source (env, file, vault) resolved on the worker; a malformed reference is refused by name.
 */
const orSecret = (plain: string, what: string) =>
  z
    .string()
    // Any spelling of "secret:" passes here so that the reference grammar below names what is wrong with it.
    .regex(new RegExp(`^(${plain}|\\s*[Ss][Ee][Cc][Rr][Ee][Tt]:)`), { message: `must be ${what} or a secret reference (${SECRET_URI_FORMS})` })
    .superRefine((text, ctx) => {
      const problem = secretUriProblem(text);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    });
const UrlOrSecret = orSecret('https?://', 'an http(s) URL');
const HeaderValue = z
  .string()
  .max(8192)
  .regex(/^[^\r\n\0]*$/, { message: 'must be one line' })
  .superRefine((text, ctx) => {
    const problem = secretUriProblem(text);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });
/** Extra request headers of a webhook (e.g. authorization), values as is or secret references; never logged. */
const Headers = z
  .record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$/, { message: 'must be an HTTP header name' }), HeaderValue)
  .refine((headers) => Object.keys(headers).length <= 32, { message: 'at most 32 headers' });

export const NotifyChannel = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('webhook'), url: UrlOrSecret.describe('Receives a JSON POST.'), headers: Headers.optional().describe('Request headers, e.g. authorization: secret://vault/secret/hooks#token.'), on: On }),
  z.strictObject({ type: z.literal('slack'), url: UrlOrSecret.describe('Slack-compatible incoming webhook ({"text": ...}).'), on: On }),
  z.strictObject({
    type: z.literal('email'),
    smtp: orSecret('smtps?://', 'an smtp:// or smtps:// URL').describe('SMTP server URL, e.g. smtp://user:pass@host:587 (use a secret:// reference for credentials).'),
    from: z.string().min(3),
    to: z.array(z.string().min(3)).min(1),
    on: On,
  }),
]);
export type NotifyChannel = z.infer<typeof NotifyChannel>;

export const NotifySpec = z.array(NotifyChannel).min(1).describe('Where run events go: JSON webhook, Slack-compatible webhook, SMTP email. Sending failures never fail the run.');

/** One run event for the DAG's notification channels (the `notify` activity's input). */
export interface NotifyRequest {
  channels: NotifyChannel[];
  event: NotifyEvent;
  runId: string;
  dagId: string;
  /** Run state, or "waiting" for approval events. */
  state: string;
  /** One line for humans. */
  text: string;
  taskId?: string;
  details?: Record<string, unknown>;
}
