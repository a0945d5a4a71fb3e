import type { Logger } from 'pino';
import type { NotifyChannel } from '../../dag-repos/schema/rollback-notify';
import type { NotifyRequest } from '../../dag-repos/schema/rollback-notify';
import { createRedactor, redactDeep } from '../process/redact';
import { resolveAuthorValue } from '../process/secret-refs';

export interface NotifyActivityDeps {
  logger?: Logger;
  /** Per request; small so a dead endpoint cannot hold up a run. */
  timeoutMs?: number;
}

const TITLES: Record<NotifyRequest['event'], string> = { failure: 'run failed', approval: 'approval needed', success: 'run succeeded' };

function passwordOf(url: string): string {
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return '';
  }
}

async function post(url: string, body: unknown, timeoutMs: number, headers: Record<string, string> = {}): Promise<void> {
  const response = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
}

/**
 * The channel with its references resolved (URL, SMTP URL, webhook headers), and what to redact:
 * each resolved secret, the URL itself and its password (webhook URLs often are the credential).
 */
async function resolveChannel(channel: NotifyChannel): Promise<{ resolved: NotifyChannel; secrets: string[] }> {
  const secrets: string[] = [];
  const resolve = async (written: string): Promise<string> => {
    const { value, secret } = await resolveAuthorValue(written);
    if (secret !== undefined) secrets.push(secret);
    return value;
  };
  switch (channel.type) {
    case 'email': {
      const smtp = await resolve(channel.smtp);
      return { resolved: { ...channel, smtp }, secrets: [...secrets, smtp, passwordOf(smtp)] };
    }
    case 'slack': {
      const url = await resolve(channel.url);
      return { resolved: { ...channel, url }, secrets: [...secrets, url, passwordOf(url)] };
    }
    case 'webhook': {
      const url = await resolve(channel.url);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(channel.headers ?? {})) headers[name] = await resolve(value);
      return { resolved: { ...channel, url, ...(channel.headers === undefined ? {} : { headers }) }, secrets: [...secrets, url, passwordOf(url)] };
    }
    default: {
      const never: never = channel;
      throw new Error(`unknown channel ${JSON.stringify(never)}`);
    }
  }
}

async function sendOne(resolved: NotifyChannel, whole: NotifyRequest, timeoutMs: number, redact: (text: string) => string): Promise<void> {
  // What a run says goes out redacted of the channel's own secrets too (a webhook token never echoes back).
  const request = redactDeep(whole, redact);
  const { channels: _channels, ...facts } = request;
  switch (resolved.type) {
    case 'webhook':
      return post(resolved.url, { source: 'qubinode', ...facts, title: TITLES[request.event] }, timeoutMs, resolved.headers);
    case 'slack':
      return post(resolved.url, { text: `*${TITLES[request.event]}* — ${request.text}` }, timeoutMs);
    case 'email': {
      const nodemailer = await import('nodemailer');
      const transport = nodemailer.createTransport(resolved.smtp, { connectionTimeout: timeoutMs, greetingTimeout: timeoutMs, socketTimeout: timeoutMs });
      try {
        await transport.sendMail({ from: resolved.from, to: resolved.to, subject: `[qubinode] ${request.dagId}: ${TITLES[request.event]}`, text: `${request.text}\n\nrun: ${request.runId}\n${JSON.stringify(request.details ?? {}, null, 2)}\n` });
      } finally {
        transport.close();
      }
      return;
    }
    default: {
      const never: never = resolved;
      throw new Error(`unknown channel ${JSON.stringify(never)}`);
    }
  }
}

/** `notify` activity: sends one run event to each channel. Never fails: a channel that cannot be reached is reported, not thrown. */
export function createNotifyActivities(deps: NotifyActivityDeps = {}) {
  const timeoutMs = deps.timeoutMs ?? 10_000;
  return {
    async notify(request: NotifyRequest): Promise<{ sent: number; failed: string[] }> {
      const failed: string[] = [];
      let sent = 0;
      for (const channel of request.channels) {
        let redact = (text: string): string => text;
        try {
          // Channels come from the DAG file itself (never rendered from run values): their references are the author's.
          const { resolved, secrets } = await resolveChannel(channel);
          // Webhook URLs and SMTP URLs often hold tokens or passwords: never echo them.
          redact = createRedactor(secrets);
          await sendOne(resolved, request, timeoutMs, redact);
          sent += 1;
        } catch (error) {
          const message = redact((error as Error).message);
          failed.push(`${channel.type}: ${message}`);
          deps.logger?.warn({ channel: channel.type, event: request.event, runId: request.runId, error: message }, 'notification failed');
        }
      }
      return { sent, failed };
    },
  };
}
