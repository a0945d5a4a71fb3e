import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listAudit, type AuditEntry } from '../client/audit';
import { retryRun, rollbackRun } from '../client/run-control';
import { RETRY_OF_KEY } from '../workflows/search-attributes';
import { qubinodeFromSource } from './support/cli';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';
import { taskOf, until, untilTaskState } from './support/waiting';

const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

/** A chain a -> b -> c plus a side branch s, each undone by appending "undo <id>" to the journal; `boom` fails. */
function sagaDag(journal: string, rollback: string, failing = 'exit 1'): string {
  const step = (id: string, needs: string): string => `
  - id: ${id}
    uses: shell
    ${needs ? `needs: ${needs}` : ''}
    with:
      script: echo "do ${id}" >> '${journal}'
    compensate:
      uses: shell
      with:
        script: echo "undo ${id}" >> '${journal}'`;
  return `
id: saga
rollback: ${rollback}
tasks:${step('a', '')}${step('b', 'a')}${step('c', 'b')}
  - id: s
    uses: shell
    needs: a
    with:
      # Ends well after c, so the completion order the journal shows is the one the run records.
      script: until grep -qx "do c" '${journal}'; do sleep 0.1; done; sleep 1; echo "do s" >> '${journal}'
    compensate:
      uses: shell
      with:
        script: echo "undo s (a said \${{ tasks.a.state }})" >> '${journal}'
  - id: boom
    uses: shell
    needs: [c, s]
    with:
      script: ${failing}
`;
}

describe('compensation, abort and retry from failure', { concurrency: true }, () => {
  let engine: TestEngine;
  let dir: string;
  before(async () => {
    engine = await startTestEngine();
    dir = mkdtempSync(path.join(tmpdir(), 'qubinode-saga-'));
  });
  after(async () => engine.close());

  it('undoes completed tasks in reverse completion order when a task fails under rollback: auto', async () => {
    const journal = path.join(dir, 'auto.log');
    const status = await engine.run(engine.compile(sagaDag(journal, 'auto')));
    assert.equal(status.state, 'failed');
    const done = lines(journal).filter((line) => line.startsWith('do ')).map((line) => line.slice(3));
    const undone = lines(journal).filter((line) => line.startsWith('undo ')).map((line) => line.split(' ')[1]);
    assert.deepEqual(undone, [...done].reverse(), 'reverse of the completion order');
    assert.ok(lines(journal).includes('undo s (a said succeeded)'), 'compensations render templates against the run');
    assert.equal(status.rollback?.mode, 'auto');
    assert.equal(status.rollback?.trigger, 'task-failure');
    assert.equal(status.rollback?.state, 'succeeded');
    assert.match(status.rollback?.reason ?? '', /task boom failed/);
    assert.deepEqual(status.rollback?.compensations.map((entry) => [entry.taskId, entry.state]), undone.map((id) => [id, 'succeeded']));
  });

  it('leaves the work in place under rollback: manual until `rollback` is asked for', async () => {
    const journal = path.join(dir, 'manual.log');
    const status = await engine.run(engine.compile(sagaDag(journal, 'manual')));
    assert.equal(status.state, 'failed');
    assert.equal(status.rollback, undefined);
    assert.equal(lines(journal).filter((line) => line.startsWith('undo')).length, 0);
    const record = await rollbackRun(engine.client, status.runId, { by: 'carol' });
    assert.equal(record.mode, 'manual');
    assert.equal(record.reason, 'requested by carol');
    assert.deepEqual(record.compensations.map((entry) => entry.taskId), lines(journal).filter((line) => line.startsWith('undo')).map((line) => line.split(' ')[1]));
    assert.equal(record.compensations.length, 4);
    const again = await qubinodeFromSource(['rollback', status.runId]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /was already rolled back/);
    // The CLI talks to Temporal directly as the person logged in here, and says so in the audit trail.
    await until(async () => (await listAudit(engine.client, { user: userInfo().username, action: 'run.rollback', since: new Date(Date.now() - 600_000) })).some((entry) => entry.target === status.runId && entry.outcome === 'refused'), 30_000, 'the refused rollback in the audit trail');
  });

  it('stops and rolls back on `abort`, recording the trigger', async () => {
    const journal = path.join(dir, 'abort.log');
    const runId = await engine.start(engine.compile(sagaDag(journal, 'auto', 'sleep 60')));
    await untilTaskState(engine.client, runId, 'boom', 'running');
    const aborted = await qubinodeFromSource(['abort', runId, '--reason', 'error budget burnt', '--as', 'dave']);
    assert.equal(aborted.code, 0, aborted.stderr);
    assert.match(aborted.stdout, /abort requested for dag\/test\/saga\//);
    const status = await engine.wait(runId);
    assert.equal(status.state, 'cancelled');
    assert.equal(status.reason, `aborted by ${userInfo().username} for dave: error budget burnt`, '--as names whom the OS user acts for, never who acted');
    let entries: AuditEntry[] = [];
    await until(
      async () => {
        entries = (await listAudit(engine.client, { user: 'dave', action: 'run.abort', since: new Date(Date.now() - 600_000) })).filter((entry) => entry.target === runId);
        return entries.length > 0;
      },
      30_000,
      'the abort in the audit trail',
    );
    assert.deepEqual(entries.map((entry) => [entry.actor, entry.via, entry.onBehalfOf, entry.outcome, entry.detail]), [[userInfo().username, 'local', 'dave', 'ok', 'error budget burnt']]);
    assert.equal(status.rollback?.trigger, 'manual-abort');
    assert.equal(status.rollback?.compensations.length, 4);
    assert.equal(taskOf(status, 'boom').state, 'cancelled');
  });

  it('retries from the failure reusing upstream outputs without running them again', async () => {
    const counter = path.join(dir, 'runs.log');
    const marker = path.join(dir, 'fixed');
    const dag = engine.compile(`
id: retryable
tasks:
  - id: fetch
    uses: shell
    with:
      script: echo fetch >> '${counter}'; echo "version=42" >> "$QUBINODE_OUTPUTS"
  - id: build
    uses: shell
    needs: fetch
    with:
      script: echo build >> '${counter}'; echo "artifact=app-\${{ tasks.fetch.outputs.version }}" >> "$QUBINODE_OUTPUTS"
  - id: deploy
    uses: shell
    needs: build
    with:
      script: test -e '${marker}' && echo deploy >> '${counter}' && echo "deployed=\${{ tasks.build.outputs.artifact }}" >> "$QUBINODE_OUTPUTS"
`);
    const first = await engine.run(dag);
    assert.deepEqual(taskStates(first), { fetch: 'succeeded', build: 'succeeded', deploy: 'failed' });
    writeFileSync(marker, '');

    const retry = await retryRun(engine.client, first.runId);
    assert.deepEqual(retry.reused.sort(), ['build', 'fetch']);
    const second = await engine.wait(retry.runId);
    assert.equal(second.state, 'succeeded');
    assert.equal(taskOf(second, 'deploy').outputs?.deployed, 'app-42');
    assert.equal(taskOf(second, 'fetch').reusedFrom, first.runId);
    assert.equal(second.retryOf, first.runId);
    assert.deepEqual(lines(counter), ['fetch', 'build', 'deploy'], 'fetch and build ran once');
    const described = await engine.client.workflow.getHandle(retry.runId).describe();
    assert.equal(described.typedSearchAttributes.get(RETRY_OF_KEY), first.runId);
    assert.equal((described.memo as { retryOf?: string }).retryOf, first.runId);

    const cli = await qubinodeFromSource(['retry', first.runId, '--from', 'build', '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    const fromBuild = JSON.parse(cli.stdout) as { runId: string; reused: string[]; retryOf: string };
    assert.deepEqual(fromBuild.reused, ['fetch']);
    assert.equal(fromBuild.retryOf, first.runId);
    assert.equal((await engine.wait(fromBuild.runId)).state, 'succeeded');
    assert.deepEqual(lines(counter), ['fetch', 'build', 'deploy', 'build', 'deploy']);
  });
});
