import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { createNotifyActivities } from '../activities/actions/notify';
import { after, before, describe, it } from 'node:test';
import { decideApproval } from '../client/run-control';
import { startTestEngine, type TestEngine } from './support/engine';
import { until, untilTaskState } from './support/waiting';

interface Received {
  path: string;
  body: Record<string, unknown>;
}

describe('run notifications', () => {
  let engine: TestEngine;
  let server: Server;
  let base: string;
  const received: Received[] = [];
  before(async () => {
    engine = await startTestEngine();
    server = createServer((request, response) => {
      let text = '';
      request.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      request.on('end', () => {
        received.push({ path: request.url ?? '', body: JSON.parse(text) as Record<string, unknown> });
        response.writeHead(request.url === '/broken' ? 500 : 200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.close();
    await engine.close();
  });

  it('posts approval-needed and failure events to a JSON webhook and a Slack-compatible one; a broken channel does not fail the run', async () => {
    const runId = await engine.start(
      engine.compile(`
id: noisy
notify:
  - type: webhook
    url: ${base}/hook
  - type: slack
    url: ${base}/slack
    on: [failure]
  - type: webhook
    url: ${base}/broken
    on: [approval]
  - type: webhook
    url: http://127.0.0.1:9/closed
tasks:
  - id: gate
    uses: approval
  - id: fail
    uses: shell
    needs: gate
    with:
      command: ["false"]
`),
    );
    await untilTaskState(engine.client, runId, 'gate', 'waiting');
    await until(() => received.some((entry) => entry.path === '/hook' && entry.body.event === 'approval'), 15_000, 'the approval notification');
    const approval = received.find((entry) => entry.path === '/hook' && entry.body.event === 'approval');
    assert.equal(approval?.body.runId, runId);
    assert.equal(approval?.body.taskId, 'gate');
    assert.match(String(approval?.body.text), /task gate waits for approval .*qubinode approve/);
    await decideApproval(engine.client, runId, { taskId: 'gate', approve: true, by: 'ops' });

    const status = await engine.wait(runId);
    assert.equal(status.state, 'failed', 'the run ends by its tasks, not by its notifications');
    await until(() => received.some((entry) => entry.path === '/slack'), 15_000, 'the Slack notification');
    const failure = received.find((entry) => entry.path === '/hook' && entry.body.event === 'failure');
    assert.equal(failure?.body.state, 'failed');
    assert.match(String(failure?.body.text), /failed: fail/);
    const slack = received.find((entry) => entry.path === '/slack');
    assert.deepEqual(Object.keys(slack?.body ?? {}), ['text']);
    assert.match(String(slack?.body.text), /^\*run failed\* — test\/noisy: run failed/);
    assert.ok(received.some((entry) => entry.path === '/broken'), 'the broken channel was tried');
    assert.equal(received.filter((entry) => entry.path === '/hook').length, 2, 'approval and failure; no success event');
  });

  it('sends email over SMTP with nodemailer', async () => {
    // A minimal SMTP server on 127.0.0.1 stands in for a mail relay (none runs on this machine);
    // nodemailer speaks real SMTP to it, and the test reads the message it delivered.
    const messages: string[] = [];
    const smtp = createTcpServer((socket) => {
      let data = false;
      let buffer = '';
      socket.write('220 stand-in ESMTP\r\n');
      socket.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('utf8');
        for (;;) {
          if (data) {
            const end = buffer.indexOf('\r\n.\r\n');
            if (end < 0) return;
            messages.push(buffer.slice(0, end));
            buffer = buffer.slice(end + 5);
            data = false;
            socket.write('250 queued\r\n');
            continue;
          }
          const newline = buffer.indexOf('\r\n');
          if (newline < 0) return;
          const line = buffer.slice(0, newline).toUpperCase();
          buffer = buffer.slice(newline + 2);
          if (line.startsWith('EHLO')) socket.write('250-stand-in\r\n250 8BITMIME\r\n');
          else if (line.startsWith('DATA')) {
            data = true;
            socket.write('354 go ahead\r\n');
          } else if (line.startsWith('QUIT')) socket.end('221 bye\r\n');
          else socket.write('250 ok\r\n');
        }
      });
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const port = (smtp.address() as AddressInfo).port;
    try {
      const { notify } = createNotifyActivities({ timeoutMs: 5000 });
      const result = await notify({
        channels: [
          { type: 'email', smtp: `smtp://127.0.0.1:${port}`, from: 'qubinode@example.test', to: ['ops@example.test'], on: ['failure'] },
          { type: 'email', smtp: 'smtp://relay:hunter2@127.0.0.1:9', from: 'qubinode@example.test', to: ['ops@example.test'], on: ['failure'] },
        ],
        event: 'failure',
        runId: 'dag/test/mail/1',
        dagId: 'test/mail',
        state: 'failed',
        text: 'test/mail: run failed',
      });
      assert.equal(result.sent, 1);
      assert.equal(result.failed.length, 1, 'the unreachable relay is reported, not thrown');
      assert.doesNotMatch(result.failed[0] ?? '', /hunter2/, 'SMTP passwords never reach the result or the log');
      assert.equal(messages.length, 1);
      assert.match(messages[0] ?? '', /Subject: \[qubinode\] test\/mail: run failed/);
      assert.match(messages[0] ?? '', /To: ops@example\.test/);
      assert.match(messages[0] ?? '', /run: dag\/test\/mail\/1/);
    } finally {
      smtp.close();
    }
  });
});
