import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../config/config';
import { qubinode } from './support/cli';
import { startTestEngine, type TestEngine } from './support/engine';
import { dagYaml, GitFixture } from './support/git-fixture';

const repo = path.join(PROJECT_ROOT, 'test', 'fixtures', 'cli-repo');
const invalidDir = path.join(PROJECT_ROOT, 'test', 'fixtures', 'dags', 'invalid');

describe('qubinode CLI', () => {
  let engine: TestEngine;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    engine = await startTestEngine();
    env = { QUBINODE_TASK_QUEUE: engine.taskQueue, QUBINODE_DAG_DIRS: `cli=${repo},examples=dag-repos/examples`, QUBINODE_LOG_DIR: engine.logDir };
  });
  after(async () => engine.close());

  describe('dag validate', () => {
    it('exits 0 and names each DAG when all files are valid', async () => {
      const result = await qubinode(['dag', 'validate', repo, 'dag-repos/examples/dags/hello.yaml'], env);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /✔ .*ok\.yaml \(cli-repo\/ok\)/);
      assert.match(result.stdout, /✔ dag-repos\/examples\/dags\/hello\.yaml \(hello\)/);
    });

    it('exits 1 and prints file:line:column, path and the cycle for an invalid DAG', async () => {
      const file = path.join(invalidDir, 'cycle.yaml');
      const result = await qubinode(['dag', 'validate', file], env);
      assert.equal(result.code, 1);
      assert.match(result.stdout, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:\\d+:\\d+ tasks\\.\\S+: dependency cycle: (\\S+ -> )+\\S+`));
    });

    it('exits 2 for a path that does not exist and for an unknown option', async () => {
      assert.equal((await qubinode(['dag', 'validate', 'no/such/file.yaml'], env)).code, 2);
      assert.equal((await qubinode(['dag', 'validate', '--bogus', repo], env)).code, 2);
    });
  });

  it('lists the catalog and draws a graph as text and Mermaid', async () => {
    const list = await qubinode(['dag', 'list'], env);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /cli\/ok\s+2\s+yes/);
    assert.match(list.stdout, /examples\/hello/);
    const graph = await qubinode(['dag', 'graph', 'cli/ok'], env);
    assert.match(graph.stdout, /stage 2:\n\s+after \(noop\)\s+<- say/);
    assert.match(graph.stdout, /flowchart TD[\s\S]*t_say --> t_after/);
  });

  it('refuses an unknown DAG with the nearest names and starts nothing', async () => {
    const result = await qubinode(['run', 'cli/okk'], env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /unknown DAG "cli\/okk" \(did you mean "cli\/ok"/);
  });

  it('refuses bad params before starting: unknown name, wrong type, out of range', async () => {
    const result = await qubinode(['run', 'cli/ok', '-p', 'wrod=x', '-p', 'count=many'], env);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /param wrod: unknown param \(did you mean "word"\?\)/);
    assert.match(result.stderr, /param count: expected an integer, got "many"/);
    assert.match((await qubinode(['run', 'cli/ok', '-p', 'count=9'], env)).stderr, /param count: must be at most 5, got 9/);
    assert.equal((await qubinode(['run', 'cli/ok', '-p', 'novalue'], env)).code, 2);
  });

  it('runs a DAG with --wait --json and exits 0 with per-task states and outputs', async () => {
    const result = await qubinode(['run', 'cli/ok', '-p', 'word=hey', '-p', 'count=2', '--wait', '--json'], env);
    assert.equal(result.code, 0, result.stderr);
    const run = JSON.parse(result.stdout) as { runId: string; status: string; tasks: { id: string; state: string; outputs?: { stdout?: string } }[] };
    assert.match(run.runId, /^dag\/cli\/ok\//);
    assert.equal(run.status, 'succeeded');
    assert.deepEqual(run.tasks.map((task) => [task.id, task.state]), [['say', 'succeeded'], ['after', 'succeeded']]);
    assert.equal(run.tasks[0]?.outputs?.stdout, 'hey x2\n');

    const status = JSON.parse((await qubinode(['status', run.runId, '--json'], env)).stdout) as { status: string };
    assert.equal(status.status, 'succeeded');
    const logs = await qubinode(['logs', run.runId, 'say'], env);
    assert.match(logs.stdout, /hey x2/);
  });

  it('exits 1 when the run fails and shows the error and output tail in status', async () => {
    const result = await qubinode(['run', 'cli/fails', '--wait'], env);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /✖ boom\s+failed.*CommandFailed: exit code 3/);
    const runId = /started (\S+)/.exec(result.stdout)?.[1] ?? '';
    const status = await qubinode(['status', runId], env);
    assert.match(status.stdout, /state\s+failed/);
    assert.match(status.stdout, /boom output \(tail\):\n\s+about to fail/);
  });

  it('cancels a running run and lists it by state', async () => {
    const started = await qubinode(['run', 'cli/slow', '--json'], env);
    const runId = (JSON.parse(started.stdout) as { runId: string }).runId;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const cancel = await qubinode(['cancel', runId], env);
    assert.equal(cancel.code, 0, cancel.stderr);
    const final = await engine.wait(runId);
    assert.equal(final.state, 'cancelled');
    assert.equal(final.tasks[0]?.state, 'cancelled');
    let listed: { runId: string; state: string }[] = [];
    for (let tries = 0; tries < 20 && !listed.some((run) => run.runId === runId); tries += 1) {
      listed = JSON.parse((await qubinode(['runs', '--dag', 'cli/slow', '--status', 'cancelled', '--json'], env)).stdout) as typeof listed;
      if (!listed.some((run) => run.runId === runId)) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.ok(listed.some((run) => run.runId === runId && run.state === 'cancelled'), JSON.stringify(listed));
  });

  it('registers a Git repository, lists its DAGs, runs one and removes it', async () => {
    const git = new GitFixture();
    const name = `cli${Date.now().toString(36)}`;
    try {
      git.write('dags/hello.yaml', dagYaml('hello'));
      const commit = git.commitAndPush('first');
      const added = await qubinode(['repo', 'add', name, git.bare], env);
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stdout, new RegExp(`accepted ${commit.slice(0, 12)}`));
      const shown = await qubinode(['repo', 'show', name], env);
      assert.match(shown.stdout, new RegExp(`active\\s+${commit}`));
      assert.match((await qubinode(['dag', 'list'], env)).stdout, new RegExp(`${name}/hello`));
      const run = await qubinode(['run', `${name}/hello`, '--wait', '--json'], env);
      assert.equal(run.code, 0, run.stderr);
      assert.equal((JSON.parse(run.stdout) as { commit: string }).commit, commit);
      git.write('dags/bad.yaml', 'id: bad\ntasks: []\n');
      git.commitAndPush('bad');
      const sync = await qubinode(['repo', 'sync', name], env);
      assert.equal(sync.code, 1);
      assert.match(sync.stdout, /rejected[\s\S]*dags\/bad\.yaml:2:\d+ tasks: a DAG needs at least one task/);
    } finally {
      await qubinode(['repo', 'remove', name], env);
      git.cleanup();
    }
  });

  it('scans DAG files and exits 1 on a blocking finding', async () => {
    const scan = await qubinode(['dag', 'scan', path.join(PROJECT_ROOT, 'test', 'fixtures', 'scan', 'rm-root.yaml')], env);
    assert.equal(scan.code, 1);
    assert.match(scan.stdout, /rm-root\.yaml:6:21 high dangerous-command: rm -r of the root directory/);
    assert.equal((await qubinode(['dag', 'scan', path.join(PROJECT_ROOT, 'test', 'fixtures', 'scan', 'clean.yaml')], env)).code, 0);
  });
});
