import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../config/config';
import { qubinode, type CliResult } from './support/cli';
import { startTestEngine, type TestEngine } from './support/engine';
import { untilTaskState } from './support/waiting';

const THREE_TASKS = `
id: watched
description: Three small tasks for qubinode watch.
tasks:
  - id: first
    uses: shell
    with:
      command: [sleep, "2"]
  - id: second
    uses: shell
    needs: first
    with:
      command: [echo, "second"]
  - id: third
    uses: noop
    needs: first
`;

const FAILS = `
id: watched-fails
description: Fails on purpose.
tasks:
  - id: boom
    uses: shell
    with:
      script: sleep 1; exit 3
`;

const SLOW = `
id: watched-slow
description: Sleeps until cancelled.
tasks:
  - id: nap
    uses: shell
    with:
      command: [sleep, "300"]
`;

/** The CLI under a pseudo-terminal (util-linux `script`), as an operator's shell runs it. */
function qubinodeOnTerminal(args: readonly string[]): Promise<CliResult> {
  const command = [process.execPath, '--require', 'tsx/cjs', path.join(PROJECT_ROOT, 'cli', 'main.ts'), ...args].map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve) => {
    execFile('script', ['--quiet', '--return', '--command', command, '/dev/null'], { cwd: PROJECT_ROOT, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('qubinode watch', () => {
  let engine: TestEngine;
  before(async () => {
    engine = await startTestEngine();
  });
  after(async () => engine.close());

  it('follows a running run until it ends, each task reaching succeeded, and exits 0', async () => {
    const runId = await engine.start(engine.compile(THREE_TASKS));
    const result = await qubinode(['watch', runId]);
    assert.equal(result.code, 0, result.stderr);
    // Not a terminal: one appended line per change, then the final table.
    assert.match(result.stdout, new RegExp(`run ${runId.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} succeeded`));
    assert.match(result.stdout, /^TASK\s+STATE\s+ATTEMPT\s+DURATION\s+RUNS ON$/m);
    for (const task of ['first', 'second', 'third']) assert.match(result.stdout, new RegExp(`^${task}\\s+✔ succeeded\\s+1\\s+\\d`, 'm'));
    assert.doesNotMatch(result.stdout, /\x1b\[/, 'no cursor movement when the output is not a terminal');
  });

  it('exits 1 when the run fails, showing the failed task', async () => {
    const runId = await engine.start(engine.compile(FAILS));
    const result = await qubinode(['watch', runId]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stdout, /^boom\s+✖ failed/m);
    assert.match(result.stdout, /watched-fails\/\S+\s+failed/);
  });

  it('exits 3 when the run was cancelled', async () => {
    const runId = await engine.start(engine.compile(SLOW));
    await untilTaskState(engine.client, runId, 'nap', 'running');
    await engine.client.workflow.getHandle(runId).cancel();
    await engine.wait(runId);
    const result = await qubinode(['watch', runId]);
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stdout, /cancelled/);
  });

  it('redraws the table in place on a terminal', async () => {
    const runId = await engine.start(engine.compile(THREE_TASKS));
    const result = await qubinodeOnTerminal(['watch', runId]);
    assert.equal(result.code, 0, result.stdout);
    // Each redraw moves the cursor back up over the previous table and clears to the end of the screen.
    assert.match(result.stdout, /\x1b\[\d+A\r\x1b\[J/);
    assert.match(result.stdout, /third\s+✔ succeeded/);
  });

  it('refuses an unknown run with exit code 4 and says how to list runs', async () => {
    const result = await qubinode(['watch', 'dag/nowhere/nothing/20990101-000000-zzzz']);
    assert.equal(result.code, 4);
    assert.match(result.stderr, /^qubinode: no run "dag\/nowhere\/nothing\/20990101-000000-zzzz"; list runs with `qubinode runs`\n$/);
  });

  it('refuses run ids with a path, a newline or 5,000 characters with exit code 2, before asking Temporal', async () => {
    for (const hostile of ['../x', 'dag/../../etc/passwd', 'dag/examples/hello/k\nqubinode: forged line', 'dag/examples/hello/k;rm -rf ~', `dag/examples/hello/${'k'.repeat(5000)}`]) {
      // An address where nothing listens: a refusal that asked Temporal would say it cannot reach it.
      const result = await qubinode(['watch', hostile], { TEMPORAL_ADDRESS: '127.0.0.1:9' });
      assert.equal(result.code, 2, `${JSON.stringify(hostile.slice(0, 40))}: ${result.stderr}`);
      assert.match(result.stderr, /^qubinode: run id "[^\n]*": (expected dag\/<repo>\/<dag id>\/<run key>|longer than 400 characters)/);
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, 'the id is quoted on one line, never echoed raw');
      assert.ok(result.stderr.length < 400, 'a long id is shortened in the message');
    }
  });

  it('documents its exit codes in --help', async () => {
    const result = await qubinode(['watch', '--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /Exit codes:\n\s+0\s+the run succeeded\n\s+1\s+the run failed[^\n]*\n\s+2\s+bad usage[^\n]*\n\s+3\s+the run was cancelled[^\n]*\n\s+4\s+no such run/);
  });
});
