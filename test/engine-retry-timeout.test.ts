import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestEngine, type TestEngine } from './support/engine';
import { allGone } from './support/processes';
import { taskOf as task } from './support/waiting';

function readPids(file: string): number[] {
  return readFileSync(file, 'utf8')
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
}

/** A script that fails until it has been run `succeedOn` times, counting runs in `counter`. */
function flakyScript(counter: string, succeedOn: number): string {
  return [
    `n=$(cat '${counter}' 2>/dev/null || echo 0)`,
    'n=$((n + 1))',
    `echo "$n" > '${counter}'`,
    `if [ "$n" -lt ${succeedOn} ]; then echo "attempt $n: not yet" >&2; exit 7; fi`,
    'echo "tries=$n" >> "$QUBINODE_OUTPUTS"',
  ].join('\n');
}

describe('retries and timeouts of tasks', () => {
  let engine: TestEngine;
  let dir: string;
  before(async () => {
    engine = await startTestEngine();
    dir = mkdtempSync(path.join(tmpdir(), 'qubinode-retry-'));
  });
  after(async () => {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('retries a failing task and reports success on the third attempt', async () => {
    const counter = path.join(dir, 'flaky.count');
    const status = await engine.run(
      engine.compile(`
id: flaky
tasks:
  - id: flaky
    uses: shell
    retry: { attempts: 3, delay: 100ms }
    with: { script: ${JSON.stringify(flakyScript(counter, 3))} }
  - { id: after, uses: noop, needs: flaky, with: { tries: "\${{ tasks.flaky.outputs.tries }}" } }
`),
    );
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks, null, 2));
    assert.equal(task(status, 'flaky').state, 'succeeded');
    assert.equal(task(status, 'flaky').attempt, 3);
    assert.equal(readFileSync(counter, 'utf8').trim(), '3');
    // A template that is one whole expression keeps the value's type.
    assert.deepEqual(task(status, 'after').outputs, { tries: 3 });
  });

  it('fails a task that exhausts its retries with its last error: exit code and stderr tail', async () => {
    const counter = path.join(dir, 'hopeless.count');
    const status = await engine.run(
      engine.compile(`
id: hopeless
tasks:
  - id: hopeless
    uses: shell
    retry: { attempts: 2, delay: 100ms, backoff: 1 }
    with: { script: ${JSON.stringify(flakyScript(counter, 99))} }
  - { id: after, uses: noop, needs: hopeless }
`),
    );
    assert.equal(status.state, 'failed');
    const hopeless = task(status, 'hopeless');
    assert.equal(hopeless.state, 'failed');
    assert.equal(hopeless.attempt, 2);
    assert.equal(hopeless.error?.type, 'CommandFailed');
    assert.equal(hopeless.error?.message, 'exit code 7: attempt 2: not yet');
    assert.equal(hopeless.error?.details?.exitCode, 7);
    assert.match(String(hopeless.error?.details?.stderrTail), /attempt 2: not yet/);
    assert.equal(readFileSync(counter, 'utf8').trim(), '2');
    assert.equal(task(status, 'after').state, 'skipped');
  });

  it('does not retry a non-retryable failure such as a missing program', async () => {
    const status = await engine.run(
      engine.compile(`
id: missing-program
tasks:
  - id: missing
    uses: shell
    retry: { attempts: 3, delay: 100ms }
    with: { command: [/nonexistent/binary, --version] }
`),
    );
    assert.equal(status.state, 'failed');
    const missing = task(status, 'missing');
    assert.equal(missing.state, 'failed');
    assert.equal(missing.error?.type, 'CommandNotFound');
    assert.equal(missing.error?.retryable, false);
    assert.match(missing.error?.message ?? '', /\/nonexistent\/binary/);
    assert.equal(missing.attempt, 1);
  });

  it('does not retry an input that only turns out invalid once rendered', async () => {
    const status = await engine.run(
      engine.compile(`
id: bad-rendered-input
params:
  wait: { type: string, default: soon }
tasks:
  - id: check
    uses: shell
    retry: { attempts: 3, delay: 100ms }
    with: { command: ['true'], timeout: "\${{ params.wait }}" }
`),
    );
    assert.equal(status.state, 'failed');
    const check = task(status, 'check');
    assert.equal(check.error?.type, 'InvalidActionInput');
    assert.match(check.error?.message ?? '', /timeout/);
    assert.equal(check.attempt, 1);
  });

  it('fails a task past its timeout with type Timeout and kills its process', async () => {
    const pidFile = path.join(dir, 'timeout.pids');
    const started = Date.now();
    const status = await engine.run(
      engine.compile(`
id: task-timeout
tasks:
  - id: slow
    uses: shell
    timeout: 1s
    with: { script: ${JSON.stringify(`echo $$ > '${pidFile}'; sleep 30 & echo $! >> '${pidFile}'; wait`)} }
`),
    );
    assert.equal(status.state, 'failed');
    const slow = task(status, 'slow');
    assert.equal(slow.state, 'failed');
    assert.equal(slow.error?.type, 'Timeout', JSON.stringify(slow.error));
    assert.match(slow.error?.message ?? '', /timed out/);
    assert.ok(Date.now() - started < 20_000, 'the run ended long before the command would have');
    assert.ok(existsSync(pidFile), 'the script started');
    const pids = readPids(pidFile);
    assert.equal(pids.length, 2, 'the shell and its background sleep');
    const gone = await allGone(pids, 15_000);
    assert.ok(gone, `processes ${pids.join(', ')} are gone after the timeout`);
  });

  it('kills a command past its with.timeout and fails it with type CommandTimedOut', async () => {
    const pidFile = path.join(dir, 'command-timeout.pids');
    const status = await engine.run(
      engine.compile(`
id: command-timeout
tasks:
  - id: slow
    uses: shell
    with:
      timeout: 1s
      script: ${JSON.stringify(`echo $$ > '${pidFile}'; sleep 30 & echo $! >> '${pidFile}'; wait`)}
`),
    );
    assert.equal(status.state, 'failed');
    const slow = task(status, 'slow');
    assert.equal(slow.error?.type, 'CommandTimedOut');
    assert.match(slow.error?.message ?? '', /timed out after 1s/);
    const pids = readPids(pidFile);
    assert.equal(pids.length, 2);
    // The activity kills the group before it reports, so nothing may be left by now.
    assert.ok(await allGone(pids, 1_000), `processes ${pids.join(', ')} are gone`);
  });
});
