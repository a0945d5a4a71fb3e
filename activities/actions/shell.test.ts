import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';

import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ActionInvocation, ActionResult } from '../../dag-repos/actions/action-types';
import { SHELL_NON_RETRYABLE_ERRORS, createShellActivities } from './shell';
import { isProcessRunning } from '../../test/support/processes';

const quiet: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

let logRoot: string;
let shell: ReturnType<typeof createShellActivities>['shell'];

before(async () => {
  logRoot = await mkdtemp(path.join(os.tmpdir(), 'qubinode-shell-test-'));
  shell = createShellActivities({ logRoot }).shell;
});

after(async () => {
  await rm(logRoot, { recursive: true, force: true });
});

function invocation(input: Record<string, unknown>, taskId = 'task'): ActionInvocation<never> {
  return { runId: 'dag/examples/hello/20261125-2017-ab12', dagId: 'examples/hello', taskId, with: input as never };
}

/** `env.run` cannot infer the result type from the function, so spell it out once. */
function runShell(env: MockActivityEnvironment, inv: ActionInvocation<never>): Promise<ActionResult> {
  return env.run<[ActionInvocation<never>], ActionResult, typeof shell>(shell, inv);
}

function newEnv(): MockActivityEnvironment {
  return new MockActivityEnvironment(undefined, { logger: quiet });
}

function failureOf(type: string, check: (failure: ApplicationFailure) => void = () => {}) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
    assert.equal(error.type, type, error.message);
    check(error);
    return true;
  };
}

function detailsOf(failure: ApplicationFailure): Record<string, unknown> {
  return (failure.details?.[0] ?? {}) as Record<string, unknown>;
}

async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 3_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function readPids(file: string): Promise<number[] | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pids = text.split('\n').filter(Boolean).map(Number);
  return pids.length === 2 ? pids : undefined;
}

// The script leads the group; its background `sleep 300` is a second member that must die too.
const treeScript = 'echo $$ > "$PIDS"; sleep 300 & echo $! >> "$PIDS"; wait';

describe('shell activity', () => {
  test('runs an argv command without a shell and returns its exit code and stdout tail', async () => {
    const result = await runShell(newEnv(), invocation({ command: ['printf', '%s\n', 'a;b $HOME | c'] }));
    assert.equal(result.outputs.exitCode, 0);
    assert.equal(result.outputs.stdout, 'a;b $HOME | c\n');
    assert.equal(result.outputs.stderr, '');
    assert.match(result.summary, /^exit 0 in \d+\.\ds$/);
    assert.ok(result.logPath?.endsWith(path.join('dag', 'examples', 'hello', '20261125-2017-ab12', 'task.log')));
    assert.match(await readFile(result.logPath ?? '', 'utf8'), /a;b \$HOME \| c/);
  });

  test('runs a script with bash strict mode so a failing pipeline fails the task', async () => {
    await assert.rejects(
      runShell(newEnv(), invocation({ script: 'false | true\necho unreachable' })),
      failureOf('CommandFailed', (failure) => {
        assert.equal(detailsOf(failure).exitCode, 1);
        assert.doesNotMatch(String(detailsOf(failure).stdoutTail), /unreachable/);
      }),
    );
  });

  test('fails with CommandFailed and the stderr tail when the exit code is not a success code', async () => {
    await assert.rejects(
      runShell(newEnv(), invocation({ script: 'echo progress; echo "disk full" >&2; exit 3' })),
      failureOf('CommandFailed', (failure) => {
        assert.equal(failure.message, 'exit code 3: disk full');
        assert.equal(failure.nonRetryable, false);
        const details = detailsOf(failure);
        assert.equal(details.exitCode, 3);
        assert.equal(details.signal, null);
        assert.equal(details.stderrTail, 'disk full\n');
        assert.equal(details.stdoutTail, 'progress\n');
        assert.ok(String(details.logPath).endsWith('task.log'));
      }),
    );
  });

  test('accepts a non-zero exit code listed in successCodes', async () => {
    const result = await runShell(newEnv(), invocation({ command: ['sh', '-c', 'exit 2'], successCodes: [0, 2] }));
    assert.equal(result.outputs.exitCode, 2);
  });

  test('reads key=value outputs written to QUBINODE_OUTPUTS', async () => {
    const script = [
      'echo "vm_ip=10.0.0.5" >> "$QUBINODE_OUTPUTS"',
      `echo 'facts={"cpus":4,"ok":true}' >> "$QUBINODE_OUTPUTS"`,
      'echo "count=3" >> "$QUBINODE_OUTPUTS"',
      'echo "" >> "$QUBINODE_OUTPUTS"',
      'echo "not a pair" >> "$QUBINODE_OUTPUTS"',
      'echo "run=$QUBINODE_RUN_ID task=$QUBINODE_TASK_ID item=$QUBINODE_ITEM_INDEX"',
    ].join('\n');
    const result = await runShell(newEnv(), { ...invocation({ script }, 'outputs'), itemIndex: 2 });
    assert.equal(result.outputs.vm_ip, '10.0.0.5');
    assert.deepEqual(result.outputs.facts, { cpus: 4, ok: true });
    assert.equal(result.outputs.count, 3);
    assert.equal(result.outputs.stdout, 'run=dag/examples/hello/20261125-2017-ab12 task=outputs item=2\n');
    assert.match(result.summary, /warning: ignored 1 malformed QUBINODE_OUTPUTS line\(s\) \(line 5\)/);
    assert.ok(result.logPath?.endsWith('outputs.2.log'));
  });

  test('starts every attempt with a fresh outputs file', async () => {
    const input = { script: '[ -s "$QUBINODE_OUTPUTS" ] && exit 9; echo "n=1" >> "$QUBINODE_OUTPUTS"' };
    await runShell(newEnv(), invocation(input, 'fresh'));
    const second = await runShell(newEnv(), invocation(input, 'fresh'));
    assert.equal(second.outputs.n, 1);
  });

  test('heartbeats with the pid, elapsed time and last stdout line', async () => {
    const env = newEnv();
    const beats: Array<{ pid?: number; elapsedMs: number; lastLine: string }> = [];
    env.on('heartbeat', (details: (typeof beats)[number]) => beats.push(details));
    await runShell(env, invocation({ script: 'echo first; echo second; sleep 1.3' }));
    const late = beats.filter((beat) => beat.elapsedMs >= 1_000);
    assert.ok(late.length >= 1, `expected a heartbeat after 1s, got ${JSON.stringify(beats)}`);
    assert.equal(late[0]?.lastLine, 'second');
    assert.equal(typeof late[0]?.pid, 'number');
  });

  test('kills the whole process group when the activity is cancelled', async () => {
    const pidFile = path.join(logRoot, 'cancel.pids');
    const env = newEnv();
    const running = runShell(env, invocation({ script: treeScript, env: { PIDS: pidFile } }, 'cancel'));
    const pids = await waitFor(() => readPids(pidFile), 'the script to write its pids');
    env.cancel();
    await assert.rejects(running, (error: unknown) => error instanceof CancelledFailure);
    for (const pid of pids) await waitFor(() => (isProcessRunning(pid) ? undefined : true), `pid ${pid} to exit`);
  });

  test('kills the process group on timeout', async () => {
    const pidFile = path.join(logRoot, 'timeout.pids');
    const started = Date.now();
    await assert.rejects(
      runShell(newEnv(), invocation({ script: treeScript, env: { PIDS: pidFile }, timeout: '500ms' }, 'timeout')),
      failureOf('CommandTimedOut', (failure) => {
        assert.equal(failure.message, 'command timed out after 500ms');
        assert.equal(failure.nonRetryable, false);
        assert.ok(String(detailsOf(failure).logPath).endsWith('timeout.log'));
      }),
    );
    assert.ok(Date.now() - started < 4_000);
    const pids = await readPids(pidFile);
    assert.ok(pids !== undefined, 'the script wrote its pids');
    for (const pid of pids) await waitFor(() => (isProcessRunning(pid) ? undefined : true), `pid ${pid} to exit`);
  });

  test('reports CommandNotFound as non-retryable', async () => {
    assert.ok(SHELL_NON_RETRYABLE_ERRORS.includes('CommandNotFound'));
    await assert.rejects(
      runShell(newEnv(), invocation({ command: ['qubinode-no-such-program', '--help'] })),
      failureOf('CommandNotFound', (failure) => {
        assert.equal(failure.nonRetryable, true);
        assert.match(failure.message, /"qubinode-no-such-program": not found on PATH/);
      }),
    );
    await assert.rejects(
      runShell(newEnv(), invocation({ command: ['true'], cwd: path.join(logRoot, 'missing-dir') })),
      failureOf('CommandNotFound', (failure) => {
        assert.equal(failure.nonRetryable, true);
        assert.match(failure.message, /working directory ".*missing-dir" does not exist/);
      }),
    );
  });

  test('redacts secret env values from the log file and tails', async () => {
    const secret = 's3cr3t-value-42';
    const script = [
      'echo "token=$API_TOKEN plain=$PLAIN"',
      'echo "$DB_PASSWORD" >&2',
      // The secret arrives in two separate writes, so it spans two chunks.
      'printf "split=s3cr3t-"; sleep 0.2; printf "value-42\\n"',
      'echo "out=$API_TOKEN" >> "$QUBINODE_OUTPUTS"',
    ].join('\n');
    const env = { API_TOKEN: secret, DB_PASSWORD: secret, PLAIN: 'visible' };
    const result = await runShell(newEnv(), invocation({ script, env }, 'redact'));
    assert.equal(result.outputs.stdout, 'token=*** plain=visible\nsplit=***\n');
    assert.equal(result.outputs.stderr, '***\n');
    assert.equal(result.outputs.out, '***');
    const log = await readFile(result.logPath ?? '', 'utf8');
    assert.ok(!log.includes(secret), log);
    assert.match(log, /plain=visible/);

    await assert.rejects(
      runShell(newEnv(), invocation({ script: 'echo "$MY_SECRET" >&2; exit 1', env: { MY_SECRET: secret } }, 'redact')),
      failureOf('CommandFailed', (failure) => {
        assert.equal(failure.message, 'exit code 1: ***');
        assert.equal(detailsOf(failure).stderrTail, '***\n');
      }),
    );
  });

  test('rejects unknown input fields', async () => {
    await assert.rejects(
      runShell(newEnv(), invocation({ command: ['true'], comand: ['x'] })),
      failureOf('InvalidActionInput', (failure) => {
        assert.equal(failure.nonRetryable, true);
        assert.match(failure.message, /with: Unrecognized key: "comand"/);
      }),
    );
  });

  test('rejects inputs with both command and script, or a bad timeout', async () => {
    await assert.rejects(
      runShell(newEnv(), invocation({ command: ['true'], script: 'true' })),
      failureOf('InvalidActionInput', (failure) => assert.match(failure.message, /either command or script, not both/)),
    );
    await assert.rejects(
      runShell(newEnv(), invocation({ env: {} })),
      failureOf('InvalidActionInput', (failure) => assert.match(failure.message, /exactly one of command or script/)),
    );
    await assert.rejects(
      runShell(newEnv(), invocation({ command: ['true'], timeout: '5 minutes' })),
      failureOf('InvalidActionInput', (failure) => assert.match(failure.message, /with\.timeout: invalid duration "5 minutes"/)),
    );
  });
});
