import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../config/config';
import { qubinode, type CliResult } from './support/cli';
import { startTestEngine, type TestEngine } from './support/engine';
import { untilTaskState } from './support/waiting';

// The first task waits for a file the test creates once watch has shown the run going, so what watch
// prints while the run is still going does not depend on how fast the machine is.
const THREE_TASKS = `
id: watched
description: Three small tasks for qubinode watch.
params:
  gate:
    type: string
tasks:
  - id: first
    uses: shell
    with:
      command: [sh, -c, 'i=0; while [ ! -e "$1" ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done; [ -e "$1" ]', gate, "\${{ params.gate }}"]
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

/**
 * Runs the CLI and, once its output matches `shown`, calls `release` (which lets the run go on); resolves
 * when the CLI exits. With `terminal`, under a pseudo-terminal (util-linux `script`), as an operator's shell runs it.
 */
function watchWhile(args: readonly string[], shown: RegExp, release: () => void, terminal = false): Promise<CliResult> {
  const cli = [process.execPath, '--require', 'tsx/cjs', path.join(PROJECT_ROOT, 'cli', 'main.ts'), ...args];
  const command = cli.map((word) => `'${word.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = terminal ? spawn('script', ['--quiet', '--return', '--command', command, '/dev/null'], { cwd: PROJECT_ROOT }) : spawn(cli[0]!, cli.slice(1), { cwd: PROJECT_ROOT });
  let stdout = '';
  let stderr = '';
  let released = false;
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    if (!released && shown.test(stdout)) {
      released = true;
      release();
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr })));
}

describe('qubinode watch', () => {
  let engine: TestEngine;
  let dir: string;
  before(async () => {
    engine = await startTestEngine();
    dir = mkdtempSync(path.join(tmpdir(), 'qubinode-watch-'));
  });
  after(async () => {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('follows a running run until it ends, each task reaching succeeded, and exits 0', async () => {
    const gate = path.join(dir, 'plain');
    const runId = await engine.start(engine.compile(THREE_TASKS), { gate });
    const result = await watchWhile(['watch', runId], /^first\s+▶ running/m, () => writeFileSync(gate, ''));
    assert.equal(result.code, 0, result.stderr);
    // Not a terminal: one appended line per change, then the final table.
    const id = runId.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    assert.match(result.stdout, new RegExp(`^run ${id} running$[\\s\\S]*^first\\s+▶ running[\\s\\S]*^run ${id} succeeded$[\\s\\S]*^first\\s+✔ succeeded`, 'm'));
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
    const gate = path.join(dir, 'terminal');
    const runId = await engine.start(engine.compile(THREE_TASKS), { gate });
    const result = await watchWhile(['watch', runId], /first\s+▶ running/, () => writeFileSync(gate, ''), true);
    assert.equal(result.code, 0, result.stdout);
    // A redraw moves the cursor back up over the previous table and clears to the end of the screen.
    assert.match(result.stdout, /first\s+▶ running[\s\S]*\x1b\[\d+A\r\x1b\[J[\s\S]*third\s+✔ succeeded/);
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
