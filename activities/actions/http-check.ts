import { createWriteStream } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { INVALID_ACTION_INPUT, parseActionInput } from './action-input';
import { createRedactor } from '../process/redact';
import { heartbeat } from '../process/secret-scope';
import type { ActionInvocation, ActionResult } from '../../dag-repos/actions/action-types';
import { formatSeconds, parseDuration } from '../../dag-repos/schema/duration';
import { HttpCheckInput } from '../../dag-repos/actions/http-check-input';
import { taskLogPath } from '../../config/log-layout';
import { OutputTail } from '../process/output-tail';
import { closeLog } from '../process/log-stream';
import { deadlineSignal } from '../../config/deadline-signal';
import { nonRetryableOf, type FailureType } from '../../dag-repos/actions/failure-types';

/** Failure types thrown by the `httpCheck` activity. */
export const HTTP_CHECK_ERRORS = {
  /** `with` does not match {@link HttpCheckInput}. */
  InvalidActionInput: INVALID_ACTION_INPUT,
  /** The URL did not answer as expected before the overall deadline. */
  HealthCheckFailed: 'HealthCheckFailed',
} as const satisfies Record<string, FailureType>;

/** Failure types that retrying cannot fix; for a retry policy's `nonRetryableErrorTypes`. */
export const HTTP_CHECK_NON_RETRYABLE_ERRORS: readonly FailureType[] = nonRetryableOf(Object.values(HTTP_CHECK_ERRORS));

export interface HttpCheckActivityDeps {
  /** Root of the per-run log directories. */
  logRoot: string;
  logger?: Logger;
}

/** Bodies are read up to this size for the expectations; the rest is discarded. */
const BODY_READ_LIMIT = 1024 * 1024;
const BODY_RESULT_BYTES = 2048;
/** Time left under which a new attempt is not started: it could not finish before the deadline. */
const MIN_ATTEMPT_MS = 100;

interface Attempt {
  status: number | null;
  body: string;
  /** Why the attempt was not healthy; undefined when it was. */
  problem: string | undefined;
}

/** `httpCheck` activity: polls a URL until it is healthy or the deadline passes. */
export function createHttpCheckActivities(deps: HttpCheckActivityDeps) {
  return {
    async httpCheck(inv: ActionInvocation<z.input<typeof HttpCheckInput>>): Promise<ActionResult> {
      // Secret references in headers or body (e.g. `authorization: secret://env/TOKEN`) arrive resolved by the
      // worker's secret scope, which also redacts the result; headers are never logged, the log is redacted.
      const input = parseActionInput('http.check', HttpCheckInput, inv.with);
      const redact = createRedactor(inv.secrets ?? []);
      const ctx = Context.current();
      throwIfCancelled(ctx.cancellationSignal);

      const intervalMs = parseDuration(input.interval);
      const timeoutMs = parseDuration(input.timeout);
      const requestTimeoutMs = parseDuration(input.requestTimeout);
      const expectStatus = Array.isArray(input.expectStatus) ? input.expectStatus : [input.expectStatus];
      const target = `${input.method} ${urlForLog(input.url)}`;

      const logPath = taskLogPath(deps.logRoot, inv.runId, inv.taskId, inv.itemIndex);
      const log = createWriteStream(logPath, { flags: 'a' });
      // A full disk must not crash the worker.
      log.on('error', (error) => deps.logger?.warn({ logPath, err: error }, 'httpCheck: cannot write the task log'));
      const startedAt = Date.now();
      const deadline = startedAt + timeoutMs;
      log.write(redact(`=== ${new Date(startedAt).toISOString()} attempt ${ctx.info.attempt}: ${target}, deadline ${input.timeout} ===\n`));

      let attempts = 0;
      let last: Attempt = { status: null, body: '', problem: 'no attempt made' };
      try {
        for (;;) {
          attempts += 1;
          const requestMs = Math.max(1, Math.min(requestTimeoutMs, deadline - Date.now()));
          const attemptStart = Date.now();
          const answer = await attemptOnce(input, expectStatus, requestMs, ctx.cancellationSignal);
          // A request the overall deadline cut short says nothing about the service: the failure reports the
          // last answer it did give.
          const cutShort = requestMs < requestTimeoutMs && answer.status === null && last.status !== null;
          if (!cutShort) last = answer;
          log.write(
            redact(
              `${new Date().toISOString()} #${attempts} ${target} -> ${answer.status ?? 'no response'} in ${
                Date.now() - attemptStart
              }ms${answer.problem === undefined ? ': healthy' : `: ${answer.problem}`}\n`,
            ),
          );
          heartbeat({ attempt: attempts, lastStatus: last.status, lastError: last.problem ?? null });
          if (last.problem === undefined) {
            const elapsedMs = Date.now() - startedAt;
            return {
              outputs: { status: last.status, attempts, elapsedMs, body: headBytes(last.body, BODY_RESULT_BYTES) },
              summary: `${target} healthy (${last.status}) after ${attempts} attempt(s) in ${formatSeconds(elapsedMs)}`,
              logPath,
            };
          }
          const waitMs = Math.min(intervalMs, deadline - Date.now());
          if (waitMs <= 0) break;
          await ctx.sleep(waitMs);
          // An attempt with almost no time left cannot finish: not worth starting.
          if (deadline - Date.now() < Math.min(MIN_ATTEMPT_MS, requestTimeoutMs)) break;
        }
      } finally {
        await closeLog(log);
      }

      const bodyTail = new OutputTail(BODY_RESULT_BYTES);
      bodyTail.push(last.body);
      deps.logger?.debug({ runId: inv.runId, taskId: inv.taskId, attempts, lastError: last.problem }, 'httpCheck: failed');
      throw ApplicationFailure.create({
        type: HTTP_CHECK_ERRORS.HealthCheckFailed,
        nonRetryable: false,
        message: `${target} not healthy after ${attempts} attempt(s) in ${formatSeconds(Date.now() - startedAt)}: expected ${describeExpectation(
          input,
          expectStatus,
        )}; last attempt: ${last.problem ?? 'healthy'}`,
        details: [{ attempts, lastStatus: last.status, lastError: last.problem ?? null, bodyTail: bodyTail.text() }],
      });
    },
  };
}

async function attemptOnce(
  input: HttpCheckInput,
  expectStatus: readonly number[],
  requestMs: number,
  cancellation: AbortSignal,
): Promise<Attempt> {
  const deadline = deadlineSignal(requestMs, `no response within ${requestMs}ms`, cancellation);
  let status: number | null = null;
  let body = '';
  try {
    const response = await fetch(input.url, {
      method: input.method,
      headers: input.headers,
      body: input.body,
      signal: deadline.signal,
    });
    status = response.status;
    body = await readBody(response);
  } catch (error) {
    throwIfCancelled(cancellation);
    return { status, body, problem: describeFetchError(error, requestMs) };
  } finally {
    deadline.dispose();
  }
  return { status, body, problem: checkResponse(input, expectStatus, status, body) };
}

async function readBody(response: Response): Promise<string> {
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    text += decoder.decode(value, { stream: true });
    if (bytes >= BODY_READ_LIMIT) {
      await reader.cancel();
      break;
    }
  }
  return text + decoder.decode();
}

function checkResponse(input: HttpCheckInput, expectStatus: readonly number[], status: number, body: string): string | undefined {
  if (!expectStatus.includes(status)) return `status ${status}, expected ${expectStatus.join(' or ')}`;
  if (input.expectBody !== undefined && !body.includes(input.expectBody)) {
    return `body does not contain ${JSON.stringify(input.expectBody)}`;
  }
  if (input.expectJson !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(body) as unknown;
    } catch {
      return 'body is not JSON';
    }
    for (const [path, expected] of Object.entries(input.expectJson)) {
      const actual = valueAt(json, path);
      if (!isDeepStrictEqual(actual, expected)) {
        return `JSON ${path} is ${short(actual)}, expected ${short(expected)}`;
      }
    }
  }
  return undefined;
}

/** Follows a dotted path ("checks.0.ok") through objects and arrays; undefined when it leads nowhere. */
function valueAt(json: unknown, path: string): unknown {
  let current = json;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, key)) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function describeExpectation(input: HttpCheckInput, expectStatus: readonly number[]): string {
  const parts = [`status ${expectStatus.join(' or ')}`];
  if (input.expectBody !== undefined) parts.push(`body containing ${JSON.stringify(input.expectBody)}`);
  for (const [path, value] of Object.entries(input.expectJson ?? {})) parts.push(`JSON ${path} = ${short(value)}`);
  return parts.join(', ');
}

function describeFetchError(error: unknown, requestMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no response within ${requestMs}ms`;
  }
  // undici reports "fetch failed" and keeps the useful part (ECONNREFUSED, DNS…) in `cause`.
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error && cause.message !== '') return cause.message;
  return error instanceof Error ? error.message : String(error);
}

function throwIfCancelled(signal: AbortSignal): void {
  if (!signal.aborted) return;
  throw signal.reason instanceof CancelledFailure ? signal.reason : new CancelledFailure('cancelled', [signal.reason]);
}

/** The URL without a password, for logs and messages. */
function urlForLog(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

function headBytes(text: string, limit: number): string {
  const buffer = Buffer.from(text, 'utf8');
  if (buffer.length <= limit) return text;
  let end = limit;
  // Do not cut a multi-byte character in half.
  while (end > 0 && ((buffer[end] ?? 0) & 0xc0) === 0x80) end -= 1;
  return buffer.subarray(0, end).toString('utf8');
}

function short(value: unknown): string {
  const text = value === undefined ? 'missing' : JSON.stringify(value);
  return text.length <= 80 ? text : `${text.slice(0, 79)}…`;
}
