import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ActionInvocation, ActionResult } from '../../dag-repos/actions/action-types';
import { createHttpCheckActivities } from './http-check';

const quiet: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

let logRoot: string;
let httpCheck: ReturnType<typeof createHttpCheckActivities>['httpCheck'];

before(async () => {
  logRoot = await mkdtemp(path.join(os.tmpdir(), 'qubinode-http-test-'));
  httpCheck = createHttpCheckActivities({ logRoot }).httpCheck;
});

after(async () => {
  await rm(logRoot, { recursive: true, force: true });
});

interface TestServer {
  url: string;
  requests: () => number;
  close: () => Promise<void>;
}

/** A real HTTP server on 127.0.0.1; `respond` gets the 1-based request number. */
async function startServer(respond: (n: number, res: http.ServerResponse) => void): Promise<TestServer> {
  let count = 0;
  const server = http.createServer((req, res) => {
    count += 1;
    req.resume();
    respond(count, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/health`,
    requests: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function reply(res: http.ServerResponse, status: number, body: string, type = 'text/plain'): void {
  res.writeHead(status, { 'content-type': type });
  res.end(body);
}

function invocation(input: Record<string, unknown>, taskId = 'check'): ActionInvocation<never> {
  return { runId: 'dag/examples/web/20261125-2017-cd34', dagId: 'examples/web', taskId, with: input as never };
}

/** `env.run` cannot infer the result type from the function, so spell it out once. */
function runCheck(env: MockActivityEnvironment, inv: ActionInvocation<never>): Promise<ActionResult> {
  return env.run<[ActionInvocation<never>], ActionResult, typeof httpCheck>(httpCheck, inv);
}

function newEnv(): MockActivityEnvironment {
  return new MockActivityEnvironment(undefined, { logger: quiet });
}

function healthCheckFailed(check: (details: Record<string, unknown>, failure: ApplicationFailure) => void) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
    assert.equal(error.type, 'HealthCheckFailed', error.message);
    assert.equal(error.nonRetryable, false);
    check((error.details?.[0] ?? {}) as Record<string, unknown>, error);
    return true;
  };
}

describe('httpCheck activity', { timeout: 60_000 }, () => {
  test('reports healthy after the server answers 503 twice and then 200', async () => {
    const server = await startServer((n, res) => (n <= 2 ? reply(res, 503, 'starting') : reply(res, 200, 'ok')));
    try {
      const env = newEnv();
      const beats: unknown[] = [];
      env.on('heartbeat', (details: unknown) => beats.push(details));
      const result = await runCheck(env, invocation({ url: server.url, interval: '50ms', timeout: '5s' }));
      assert.equal(result.outputs.status, 200);
      assert.equal(result.outputs.attempts, 3);
      assert.equal(result.outputs.body, 'ok');
      assert.equal(typeof result.outputs.elapsedMs, 'number');
      assert.match(result.summary, /healthy \(200\) after 3 attempt\(s\)/);
      assert.deepEqual(beats, [
        { attempt: 1, lastStatus: 503, lastError: 'status 503, expected 200' },
        { attempt: 2, lastStatus: 503, lastError: 'status 503, expected 200' },
        { attempt: 3, lastStatus: 200, lastError: null },
      ]);
      const log = await readFile(result.logPath ?? '', 'utf8');
      assert.equal(log.split('\n').filter((line) => / #\d+ GET /.test(line)).length, 3);
    } finally {
      await server.close();
    }
  });

  test('checks the body for a substring and JSON fields by dotted path', async () => {
    const server = await startServer((n, res) =>
      reply(res, 200, JSON.stringify({ status: n < 2 ? 'starting' : 'ok', checks: [{ name: 'db', ok: true }] }), 'application/json'),
    );
    try {
      const input = {
        url: server.url,
        expectBody: '"checks"',
        expectJson: { status: 'ok', 'checks.0.ok': true },
        interval: '20ms',
        timeout: '5s',
      };
      const result = await runCheck(newEnv(), invocation(input));
      assert.equal(result.outputs.attempts, 2);
      assert.match(String(result.outputs.body), /"status":"ok"/);
    } finally {
      await server.close();
    }
  });

  test('fails with HealthCheckFailed and the attempt count when the deadline passes', async () => {
    const server = await startServer((_n, res) => reply(res, 503, 'down for maintenance'));
    try {
      await assert.rejects(
        runCheck(
          newEnv(),
          invocation({ url: server.url, expectStatus: [200, 204], expectBody: 'ok', interval: '50ms', timeout: '1500ms' }),
        ),
        healthCheckFailed((details, failure) => {
          assert.ok(Number(details.attempts) >= 3, `attempts: ${String(details.attempts)}`);
          assert.equal(details.attempts, server.requests());
          assert.equal(details.lastStatus, 503);
          assert.equal(details.lastError, 'status 503, expected 200 or 204');
          assert.equal(details.bodyTail, 'down for maintenance');
          assert.match(failure.message, /expected status 200 or 204, body containing "ok"; last attempt: status 503/);
        }),
      );
    } finally {
      await server.close();
    }
  });

  test('reports the last answer the service gave, not a request the deadline cut short', async () => {
    // First a 503, then requests that never get an answer: the second attempt is cut by the check's deadline.
    const server = await startServer((n, res) => (n === 1 ? reply(res, 503, 'starting') : undefined));
    try {
      await assert.rejects(
        runCheck(newEnv(), invocation({ url: server.url, interval: '50ms', timeout: '600ms', requestTimeout: '10s' })),
        healthCheckFailed((details, failure) => {
          assert.equal(details.lastStatus, 503);
          assert.match(failure.message, /last attempt: status 503/);
        }),
      );
    } finally {
      await server.close();
    }
  });

  test('counts a refused connection and a hanging request as unhealthy attempts', async () => {
    const closed = await startServer(() => undefined);
    await closed.close();
    await assert.rejects(
      runCheck(newEnv(), invocation({ url: closed.url, interval: '50ms', timeout: '200ms' })),
      healthCheckFailed((details) => {
        assert.equal(details.lastStatus, null);
        assert.match(String(details.lastError), /ECONNREFUSED/);
      }),
    );

    const hanging = await startServer(() => undefined);
    try {
      await assert.rejects(
        runCheck(newEnv(), invocation({ url: hanging.url, interval: '10ms', timeout: '300ms', requestTimeout: '100ms' })),
        healthCheckFailed((details) => {
          assert.equal(details.lastStatus, null);
          // The last attempt is cut short by the overall deadline, so its limit may be under 100ms.
          assert.match(String(details.lastError), /^no response within \d+ms$/);
          assert.ok(Number(details.attempts) >= 2);
        }),
      );
    } finally {
      await hanging.close();
    }
  });

  test('stops polling and throws the cancellation when the activity is cancelled', async () => {
    const server = await startServer((_n, res) => reply(res, 503, 'down'));
    try {
      const env = newEnv();
      let beats = 0;
      env.on('heartbeat', () => {
        beats += 1;
        if (beats === 2) env.cancel();
      });
      await assert.rejects(
        runCheck(env, invocation({ url: server.url, interval: '50ms', timeout: '10s' })),
        (error: unknown) => error instanceof CancelledFailure,
      );
      const seen = server.requests();
      assert.equal(seen, 2);
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(server.requests(), seen);
    } finally {
      await server.close();
    }
  });

  test('rejects a URL that is not http or https, and unknown fields', async () => {
    for (const input of [{ url: 'ftp://example.com/x' }, { url: 'http://127.0.0.1/', expectStaus: 200 }]) {
      await assert.rejects(runCheck(newEnv(), invocation(input)), (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure);
        assert.equal(error.type, 'InvalidActionInput');
        assert.equal(error.nonRetryable, true);
        assert.match(error.message, /with(\.url)?: /);
        return true;
      });
    }
  });
});
