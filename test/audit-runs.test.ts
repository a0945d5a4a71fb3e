import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listAudit, type AuditEntry } from '../client/audit';
import { BadRunRequestError, listRuns, startRun } from '../client/runs';
import { PROJECT_ROOT } from '../config/config';
import { resolveParams } from '../dag-repos/schema/params';
import { STARTED_BY_KEY } from '../workflows/search-attributes';
import { qubinodeFromSource } from './support/cli';
import { startTestEngine, type TestEngine } from './support/engine';
import { dagYaml, GitFixture } from './support/git-fixture';
import { until, untilTaskState } from './support/waiting';

const napDag = `
id: nap
tasks:
  - id: nap
    uses: shell
    with:
      command: [sleep, "300"]
`;

const gateDag = `
id: gated
tasks:
  - id: gate
    uses: approval
    with:
      approvers: [alice, bob]
`;

describe('runs carry who started them', { concurrency: true }, () => {
  let engine: TestEngine;
  before(async () => {
    engine = await startTestEngine();
  });
  after(async () => {
    await engine.close();
  });

  const startAs = async (startedBy: string): Promise<string> => {
    const dag = engine.compile(napDag);
    const started = await startRun(engine.client, { dag, params: resolveParams(dag.params, {}), taskQueue: engine.taskQueue, runKey: randomUUID().slice(0, 12), startedBy });
    return started.runId;
  };
  const cancel = (runId: string) => engine.client.workflow.getHandle(runId).cancel();

  /** Visibility is eventually consistent: poll until the filter lists `runId`. */
  async function listedBy(startedBy: string, runId: string) {
    let runs = await listRuns(engine.client, { startedBy, limit: 500 });
    await until(
      async () => {
        runs = await listRuns(engine.client, { startedBy, limit: 500 });
        return runs.some((run) => run.runId === runId);
      },
      30_000,
      `${runId} to be listed as started by ${startedBy}`,
    );
    return runs;
  }

  it('finds a run started with startedBy through listRuns({ startedBy }), with the search attribute and memo set', async () => {
    const person = `tester-${randomUUID().slice(0, 8)}`;
    const mine = await startAs(person);
    const theirs = await startAs(`other-${randomUUID().slice(0, 8)}`);
    try {
      const runs = await listedBy(person, mine);
      assert.deepEqual(runs.map((run) => [run.runId, run.startedBy]), [[mine, person]], 'only the runs of that person');
      const description = await engine.client.workflow.getHandle(mine).describe();
      assert.equal(description.typedSearchAttributes.get(STARTED_BY_KEY), person);
      assert.equal((description.memo as { startedBy?: string }).startedBy, person);
    } finally {
      await Promise.all([cancel(mine), cancel(theirs)]);
    }
  });

  it('gives a sub-DAG child run the starter of its parent', async () => {
    const person = `tester-${randomUUID().slice(0, 8)}`;
    const dag = engine.compile(`
id: parent
tasks:
  - { id: call, uses: dag, with: { dag: kid } }
`, { kid: 'id: kid\ntasks:\n  - { id: one, uses: noop }\n' });
    const started = await startRun(engine.client, { dag, params: {}, taskQueue: engine.taskQueue, runKey: randomUUID().slice(0, 12), startedBy: person });
    assert.equal((await engine.wait(started.runId)).state, 'succeeded');
    const childId = `dag/test/kid/${started.runKey}.call`;
    const runs = await listedBy(person, childId);
    assert.deepEqual(runs.map((run) => run.runId).sort(), [childId, started.runId].sort());
  });

  it('matches a name holding a quote exactly, and a filter with quotes or backslashes cannot widen the visibility query', async () => {
    const odd = `o'brien-${randomUUID().slice(0, 6)}`;
    const mine = await startAs(odd);
    try {
      assert.deepEqual((await listedBy(odd, mine)).map((run) => run.startedBy), [odd]);
      for (const injected of [`x' OR WorkflowType = 'dagRun`, `x\\' OR WorkflowType = 'dagRun' OR QubinodeStartedBy = 'x`, `${odd}' OR QubinodeStartedBy != '`]) {
        assert.deepEqual(await listRuns(engine.client, { startedBy: injected, limit: 20 }), [], `filter ${JSON.stringify(injected)} lists nothing`);
      }
      await assert.rejects(listRuns(engine.client, { startedBy: 'alice\nQubinodeStartedBy' }), BadRunRequestError);
      await assert.rejects(startAs('eve\u202E'), BadRunRequestError, 'a name that hides characters is not stored');
    } finally {
      await cancel(mine);
    }
  });

  it('`qubinode run` starts as the OS user, `runs --started-by` finds it, and run.start and run.cancel are audited', async () => {
    const env = { QUBINODE_TASK_QUEUE: engine.taskQueue, QUBINODE_LOG_DIR: engine.logDir };
    const me = userInfo().username;
    const file = path.join(PROJECT_ROOT, 'test', 'fixtures', 'cli-repo', 'dags', 'slow.yaml');
    const started = await qubinodeFromSource(['run', file, '--json'], env);
    assert.equal(started.code, 0, started.stderr);
    const { runId } = JSON.parse(started.stdout) as { runId: string };
    try {
      await listedBy(me, runId);
      let listed: { runId: string; startedBy?: string }[] = [];
      await until(
        async () => {
          const printed = await qubinodeFromSource(['runs', '--started-by', me, '--limit', '500', '--json'], env);
          listed = JSON.parse(printed.stdout || '[]') as typeof listed;
          return listed.some((run) => run.runId === runId);
        },
        30_000,
        'qubinode runs --started-by to list the run',
      );
      assert.ok(listed.every((run) => run.startedBy === me));
      assert.equal((await qubinodeFromSource(['runs', '--started-by', 'a\nb'], env)).code, 1, 'a name with a newline is refused');
      const cancelled = await qubinodeFromSource(['cancel', runId], env);
      assert.equal(cancelled.code, 0, cancelled.stderr);
      let entries: AuditEntry[] = [];
      await until(
        async () => {
          entries = (await listAudit(engine.client, { user: me, since: new Date(Date.now() - 600_000) })).filter((entry) => entry.target === runId || entry.detail === `started ${runId}`);
          return entries.length >= 2;
        },
        30_000,
        'run.start and run.cancel in the audit trail',
      );
      assert.deepEqual(entries.map((entry) => [entry.action, entry.actor, entry.via, entry.outcome]), [
        ['run.cancel', me, 'local', 'ok'],
        ['run.start', me, 'local', 'ok'],
      ]);
    } finally {
      await cancel(runId).catch(() => undefined);
    }
  });

  it('records local approvals as the OS user acting for the --as approver, refusals included', async () => {
    const env = { QUBINODE_TASK_QUEUE: engine.taskQueue, QUBINODE_LOG_DIR: engine.logDir };
    const me = userInfo().username;
    const runId = await engine.start(engine.compile(gateDag));
    await untilTaskState(engine.client, runId, 'gate', 'waiting');
    const refused = await qubinodeFromSource(['approve', runId, 'gate', '--as', 'mallory'], env);
    assert.equal(refused.code, 1);
    assert.doesNotMatch(refused.stderr, /alice|bob/, 'the refusal does not list the approvers');
    const approved = await qubinodeFromSource(['approve', runId, 'gate', '--as', 'bob', '--comment', 'looks good'], env);
    assert.equal(approved.code, 0, approved.stderr);
    assert.equal((await engine.wait(runId)).state, 'succeeded');
    let entries: AuditEntry[] = [];
    await until(
      async () => {
        entries = (await listAudit(engine.client, { user: me, action: 'approval.', since: new Date(Date.now() - 600_000) })).filter((entry) => entry.target === `${runId} gate`);
        return entries.length >= 2;
      },
      30_000,
      'both decisions in the audit trail',
    );
    assert.deepEqual(entries.map((entry) => [entry.action, entry.actor, entry.onBehalfOf, entry.outcome]), [
      ['approval.approve', me, 'bob', 'ok'],
      ['approval.approve', me, 'mallory', 'refused'],
    ]);
    assert.equal(entries[0]?.detail, 'looks good');
  });

  it('records repo add, sync and remove by the local CLI', async () => {
    const env = { QUBINODE_TASK_QUEUE: engine.taskQueue, QUBINODE_LOG_DIR: engine.logDir };
    const me = userInfo().username;
    const git = new GitFixture();
    const name = `audit${randomUUID().slice(0, 8)}`;
    try {
      git.write('dags/hello.yaml', dagYaml('hello'));
      git.commitAndPush('first');
      assert.equal((await qubinodeFromSource(['repo', 'add', name, git.bare], env)).code, 0);
      assert.equal((await qubinodeFromSource(['repo', 'sync', name], env)).code, 0);
      assert.equal((await qubinodeFromSource(['repo', 'remove', name], env)).code, 0);
      let entries: AuditEntry[] = [];
      await until(
        async () => {
          entries = (await listAudit(engine.client, { user: me, action: 'repo.', since: new Date(Date.now() - 600_000) })).filter((entry) => entry.target === name);
          return entries.length >= 3;
        },
        30_000,
        'repo add, sync and remove in the audit trail',
      );
      assert.deepEqual(entries.map((entry) => [entry.action, entry.via, entry.outcome]), [
        ['repo.remove', 'local', 'ok'],
        ['repo.sync', 'local', 'ok'],
        ['repo.add', 'local', 'ok'],
      ]);
      assert.equal(entries[2]?.detail, git.bare);
    } finally {
      await qubinodeFromSource(['repo', 'remove', name], env);
      git.cleanup();
    }
  });
});
