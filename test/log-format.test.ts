import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Worker } from '@temporalio/worker';
import { connectClient, type TemporalClient } from '../config/temporal-connection';
import { startRun } from '../client/runs';
import { ConfigError, loadConfig } from '../config/config';
import { TAIL_BYTES, TAIL_LINES } from '../config/log-failure';
import { formatPretty } from '../config/log-pretty';
import { createLogger, type LogSink } from '../config/logger';
import { compileDagFile } from '../dag-repos/compiler/compile';
import { resolveParams } from '../dag-repos/schema/params';
import { ensureTemporalServer } from '../infra/temporal-dev-server';
import { registerSearchAttributes } from '../infra/search-attributes';
import { actionRegistryWith, loadConfiguredPlugins } from '../plugins/plugin-actions';
import { createQubinodeWorker } from '../workers/qubinode-worker';
import { testWorkflowBundle } from './support/workflow-bundle';
import { until } from './support/waiting';
import { workerTemporalAccess } from '../client/worker-access';

/** A sink that keeps what a logger writes. */
function capture(): LogSink & { text: () => string; lines: () => string[] } {
  let text = '';
  return { write: (chunk: string) => (text += chunk), text: () => text, lines: () => text.split('\n').filter(Boolean) };
}

const AT = Date.UTC(2026, 10, 27, 8, 3, 33, 381);

describe('log lines for people and for machines', () => {
  it('writes a record as time, level, message and key=value, with a multi-line value indented below the line', () => {
    const text = formatPretty({ level: 40, time: AT, pid: 1, hostname: 'h', name: 'qubinode', msg: 'Activity failed', taskQueue: 'q', error: { type: 'CommandFailed', stdoutTail: 'first line\nsecond line\n' } }, { colour: false });
    const [head, ...rest] = text.trimEnd().split('\n');
    assert.match(head ?? '', /^\d\d:\d\d:\d\d\.381 WARN  Activity failed taskQueue=q error\.type=CommandFailed$/);
    assert.deepEqual(rest, ['  error.stdoutTail:', '    │ first line', '    │ second line']);
    assert.doesNotMatch(text, /hostname|pid=|qubinode/, 'the fields every line has are not repeated as key=value');
  });

  it('quotes a value with blanks so key=value pairs stay apart', () => {
    assert.match(formatPretty({ level: 30, time: AT, msg: 'm', path: 'a b=c' }, { colour: false }), / path="a b=c"\n$/);
  });

  it('colours the level only when asked', () => {
    const record = { level: 50, time: AT, msg: 'broken' };
    assert.match(formatPretty(record, { colour: true }), /\x1b\[31mERROR/);
    assert.doesNotMatch(formatPretty(record, { colour: false }), /\x1b/);
  });

  it('shows control characters and escape sequences from tool output instead of obeying them', () => {
    const hostile = 'red \x1b[31mtext\x1b[0m, title \x1b]0;owned\x07, erase \x1b[2J, cr \r over, bidi \u202egnp.exe, c1 \u009b31m';
    const text = formatPretty({ level: 40, time: AT, msg: `msg ${hostile}`, [`key\x1b[1m`]: hostile, block: `${hostile}\nline two` }, { colour: false });
    assert.doesNotMatch(text, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/, 'no control character reaches the terminal');
    assert.match(text, /red \\x1b\[31mtext\\x1b\[0m/, 'the escape is shown, visibly');
    assert.match(text, /\\u202egnp\.exe/);
    assert.match(text, /key\\x1b\[1m=/, 'keys are neutralised too');
  });

  it('writes JSON lines when asked, and when stderr is not a terminal; pretty text on a terminal', () => {
    for (const [format, isTty, json] of [['json', true, true], ['auto', false, true], ['auto', true, false], ['pretty', false, false]] as const) {
      const sink = capture();
      createLogger('info', 'qubinode', { format, isTty, sink }).info({ key: 'value' }, 'hello');
      const line = sink.lines()[0] ?? '';
      if (json) assert.deepEqual({ ...(JSON.parse(line) as Record<string, unknown>), time: 0, pid: 0, hostname: '' }, { level: 30, time: 0, pid: 0, hostname: '', name: 'qubinode', key: 'value', msg: 'hello' }, `${format} on ${isTty ? 'a terminal' : 'a pipe'}`);
      else assert.match(line, /^\d\d:\d\d:\d\d\.\d{3} INFO  hello key=value$/, `${format} on ${isTty ? 'a terminal' : 'a pipe'}`);
    }
  });

  it('takes QUBINODE_LOG_FORMAT from the environment, and refuses anything but auto, json or pretty, naming the variable', () => {
    assert.equal(loadConfig({}).logFormat, 'auto');
    assert.equal(loadConfig({ QUBINODE_LOG_FORMAT: 'json' }).logFormat, 'json');
    for (const bad of ['yaml', 'JSON', 'pretty\n', 'json;rm -rf /', '']) {
      assert.throws(() => loadConfig({ QUBINODE_LOG_FORMAT: bad }), (error: unknown) => error instanceof ConfigError && /QUBINODE_LOG_FORMAT/.test(error.message), JSON.stringify(bad));
    }
  });

  it('keeps only the end of a failed task\'s output, points at its full log, and drops the task token', () => {
    const sink = capture();
    const stdoutTail = Array.from({ length: 500 }, (_, index) => `line ${index + 1} of the output`).join('\n');
    createLogger('info', 'qubinode', { format: 'json', sink }).warn(
      { workflowId: 'dag/examples/hello/20261127-080332-abcd', activityId: 'greet[2]', taskToken: 'Q2lRd01XRXlNV00', error: { type: 'CommandFailed', nonRetryable: false, details: [{ exitCode: 3, stdoutTail, stderrTail: `${'x'.repeat(1_000_000)}\nboom\n`, logPath: '/logs/greet.2.log' }] } },
      'Activity failed',
    );
    const record = JSON.parse(sink.lines()[0] ?? '{}') as { taskToken?: string; error: Record<string, string | number> };
    assert.equal(record.taskToken, undefined);
    assert.equal(record.error.type, 'CommandFailed');
    assert.equal(record.error.exitCode, 3);
    assert.equal(record.error.fullLog, 'qubinode logs dag/examples/hello/20261127-080332-abcd greet');
    assert.equal(record.error.logPath, '/logs/greet.2.log');
    const kept = String(record.error.stdoutTail).split('\n');
    assert.equal(kept[0], '…', 'a cut is marked');
    assert.deepEqual(kept.slice(1), Array.from({ length: TAIL_LINES }, (_, index) => `line ${500 - TAIL_LINES + index + 1} of the output`));
    assert.ok(Buffer.byteLength(String(record.error.stderrTail)) <= TAIL_BYTES + 8, 'a megabyte line is cut to the byte limit');
    assert.match(String(record.error.stderrTail), /x\nboom$/);
    assert.ok(sink.text().length < 3 * TAIL_BYTES, `the whole line stays small (${sink.text().length} characters)`);
  });

  it('shows an error\'s message and cause, which plain JSON would print as {}', () => {
    const sink = capture();
    createLogger('info', 'qubinode', { format: 'json', sink }).warn({ error: new Error('outer', { cause: new TypeError('inner') }) }, 'Workflow failed');
    const record = JSON.parse(sink.lines()[0] ?? '{}') as { error: { message: string; cause: { message: string; type: string } } };
    assert.equal(record.error.message, 'outer');
    assert.deepEqual([record.error.cause.type, record.error.cause.message], ['TypeError', 'inner']);
  });

  it('survives a deeply nested or circular value', () => {
    const sink = capture();
    const deep: Record<string, unknown> = {};
    let cursor = deep;
    for (let index = 0; index < 5000; index += 1) cursor = (cursor.next = {}) as Record<string, unknown>;
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    const logger = createLogger('info', 'qubinode', { format: 'pretty', isTty: false, sink });
    logger.info({ deep, circular, error: { cause: { cause: { cause: { cause: { cause: 'deepest' } } } } } }, 'nested');
    assert.match(sink.text(), /INFO  nested/);
  });
});

describe('a failed task\'s log line from a real worker', () => {
  const CANARY = `cnry${randomBytes(12).toString('hex')}`;
  const SECRET_ENV = 'QUBINODE_LOG_FORMAT_CANARY';
  const sink = capture();
  let temporal: TemporalClient;
  let worker: Worker;
  let running: Promise<void>;
  let close: () => Promise<void>;
  let logDir: string;
  const taskQueue = `log-format-${randomUUID().slice(0, 8)}`;

  before(async () => {
    process.env[SECRET_ENV] = CANARY;
    logDir = mkdtempSync(path.join(tmpdir(), 'qubinode-log-format-'));
    const config = { ...loadConfig({ ...process.env, QUBINODE_AI_ANALYSIS: 'rules' }), logDir, taskQueue };
    // The worker's logger is the SDK runtime's too (the first installed in this process): the SDK writes
    // "Activity failed" through it, the line this test is about.
    const logger = createLogger('warn', 'qubinode', { format: 'json', sink });
    await ensureTemporalServer(config, logger, { detach: true });
    temporal = await connectClient(config.temporal);
    await registerSearchAttributes(temporal.connection, config.temporal.namespace);
    const created = await createQubinodeWorker({ temporalAccess: workerTemporalAccess, config, logger, taskQueue, runWorkflows: true, workflowBundle: await testWorkflowBundle() });
    worker = created.worker;
    running = worker.run().finally(() => created.close());
    close = async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await temporal.close();
    };
  });
  after(async () => {
    await close?.();
    delete process.env[SECRET_ENV];
    rmSync(logDir, { recursive: true, force: true });
  });

  it('is short, keeps a secret from the task\'s output redacted, and shows escape sequences harmlessly, in JSON and in pretty text', { timeout: 120_000 }, async () => {
    const registry = actionRegistryWith(loadConfiguredPlugins(loadConfig()));
    const dag = compileDagFile(
      {
        repo: 'test',
        path: 'dag.yaml',
        commit: 'test',
        text: `
id: noisy
tasks:
  - id: spew
    uses: shell
    retry: 1
    with:
      env: { VALUE: secret://env/${SECRET_ENV} }
      script: |
        for i in $(seq 1 300); do echo "line $i of the noisy output"; done
        echo "the secret is $VALUE"
        printf 'colour \\033[31mred\\033[0m and title \\033]0;owned\\007 done\\n'
        echo "cannot log in with $VALUE" >&2
        exit 3
`,
      },
      { registry },
    );
    const started = await startRun(temporal.client, { dag, params: resolveParams(dag.params, {}), taskQueue });
    await temporal.client.workflow.getHandle(started.runId).result().catch(() => undefined);
    await until(() => sink.lines().some((line) => line.includes('"Activity failed"')), 30_000, 'the SDK to log the failed activity');

    const line = sink.lines().find((candidate) => candidate.includes('"Activity failed"')) ?? '';
    assert.ok(line.length < 3 * TAIL_BYTES, `one failed task is one short line (${line.length} characters)`);
    const record = JSON.parse(line) as Record<string, unknown> & { error: Record<string, string> };
    assert.equal(record.error.type, 'CommandFailed');
    assert.equal(record.error.fullLog, `qubinode logs ${started.runId} spew`);
    assert.match(record.error.stdoutTail ?? '', /the secret is \*\*\*/);
    assert.doesNotMatch(record.error.stdoutTail ?? '', /line 200 of/, 'the output is cut to its end');
    assert.equal(record.taskToken, undefined);

    const pretty = sink.lines().map((json) => formatPretty(JSON.parse(json) as Record<string, unknown>, { colour: false })).join('');
    for (const [format, text] of [['json', sink.text()], ['pretty', pretty]] as const) {
      assert.ok(!text.includes(CANARY), `the canary stays out of the ${format} log`);
      assert.ok(!text.includes(Buffer.from(CANARY).toString('base64').slice(0, 20)), `the canary's base64 stays out of the ${format} log`);
    }
    assert.match(pretty, /WARN  Activity failed/);
    assert.match(pretty, /│ colour \\x1b\[31mred\\x1b\[0m and title \\x1b\]0;owned\\x07 done/);
    assert.doesNotMatch(pretty, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/, 'no control character of the output reaches the terminal');
    assert.ok(pretty.includes(`error.fullLog="qubinode logs ${started.runId} spew"`), 'pretty text points at the full log as a command to paste');
  });
});
