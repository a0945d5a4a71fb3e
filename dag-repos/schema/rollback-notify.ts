// Pure schema module: dag-spec imports it, so no side effects and no heavy imports.
import { z } from 'zod';

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
const UrlOrSecret = z
  .string()
  .regex(/^(https?:\/\/|secret:\/\/(env|file)\/)/, { message: 'must be an http(s) URL or a secret://env/NAME reference' });

export const NotifyChannel = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('webhook'), url: UrlOrSecret.describe('Receives a JSON POST.'), on: On }),
  z.strictObject({ type: z.literal('slack'), url: UrlOrSecret.describe('Slack-compatible incoming webhook ({"text": ...}).'), on: On }),
  z.strictObject({
    type: z.literal('email'),
    smtp: z.string().regex(/^(smtps?:\/\/|secret:\/\/(env|file)\/)/, { message: 'must be smtp://, smtps:// or a secret:// reference' }).describe('SMTP server URL, e.g. smtp://user:pass@host:587 (use a secret:// reference for credentials).'),
    from: z.string().min(3),
    to: z.array(z.string().min(3)).min(1),
    on: On,
  }),
]);
export type NotifyChannel = z.infer<typeof NotifyChannel>;

export const NotifySpec = z.array(NotifyChannel).min(1).describe('Where run events go: JSON webhook, Slack-compatible webhook, SMTP email. Sending failures never fail the run.');
