import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { loadCatalog } from '../client/catalog';
import { addRepo, getRepo, listRepoNames, removeRepo, requestSync, syncAndWait } from '../client/repos';
import { startRun } from '../client/runs';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { COMMIT_KEY } from '../workflows/search-attributes';
import { startTestEngine, type TestEngine } from './support/engine';
import { dagYaml, GitFixture } from './support/git-fixture';

describe('Git-synced DAG repositories (real git, real Temporal)', () => {
  let engine: TestEngine;
  let git: GitFixture;
  const name = `r${randomUUID().slice(0, 8)}`;

  before(async () => {
    engine = await startTestEngine();
    git = new GitFixture();
    git.write('dags/hello.yaml', dagYaml('hello')).write('README.md', 'docs\n');
    git.commitAndPush('first');
  });
  after(async () => {
    await removeRepo(engine.client, name).catch(() => undefined);
    await engine.close();
    git.cleanup();
  });

  it('registers a repository and makes its DAGs live at the pushed commit', async () => {
    await addRepo(engine.client, { name, url: git.bare, branch: 'main' }, engine.taskQueue);
    const record = await waitForSync(engine, name);
    assert.equal(record.state, 'accepted', record.message);
    const view = await getRepo(engine.client, name);
    assert.equal(view.active?.commit, git.head());
    assert.deepEqual(view.active?.dags.map((dag) => dag.catalogId), [`${name}/hello`]);
    assert.ok((await listRepoNames(engine.client)).includes(name));
  });

  it('adds the live commit to the failure analyser\'s knowledge index', async () => {
    const commit = (await getRepo(engine.client, name)).active?.commit ?? '';
    const store = path.join(engine.config.dataDir, 'ai', 'knowledge.json');
    const indexed = (): boolean => existsSync(store) && readFileSync(store, 'utf8').includes(`${commit}/dags/hello.yaml`);
    for (let tries = 0; tries < 150 && !indexed(); tries += 1) await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(indexed(), `knowledge index has no chunk of ${commit}/dags/hello.yaml`);
  });

  it('keeps the last good commit live when a push breaks a DAG, with file:line:col errors', async () => {
    const good = git.head();
    git.write('dags/broken.yaml', 'id: broken\ntasks:\n  - id: a\n    uses: shel\n');
    const bad = git.commitAndPush('broken');
    const record = await syncAndWait(engine.client, name);
    assert.equal(record.state, 'rejected');
    assert.equal(record.commit, bad);
    assert.match(record.errors[0]?.problems[0] ?? '', /^dags\/broken\.yaml:4:\d+ tasks\.a\.uses: unknown action "shel" \(did you mean "shell"\?\)/);
    assert.equal((await getRepo(engine.client, name)).active?.commit, good);
  });

  it('goes live with the fixed commit, then follows a force-push back to an older commit', async () => {
    const good = git.head();
    git.remove('dags/broken.yaml').write('dags/second.yaml', dagYaml('second'));
    const fixed = git.commitAndPush('fix');
    assert.equal((await syncAndWait(engine.client, name)).state, 'accepted');
    assert.equal((await getRepo(engine.client, name)).active?.commit, fixed);
    git.resetHard(good);
    git.remove('dags/broken.yaml');
    const rewritten = git.commitAndPush('rewrite history', { force: true });
    assert.equal((await syncAndWait(engine.client, name)).state, 'accepted');
    const view = await getRepo(engine.client, name);
    assert.equal(view.active?.commit, rewritten);
    assert.deepEqual(view.active?.dags.map((dag) => dag.id), ['hello']);
  });

  it('rejects a commit with a symlink that escapes the repository', async () => {
    const good = git.head();
    git.symlink('dags/escape', '/etc');
    git.commitAndPush('symlink');
    const record = await syncAndWait(engine.client, name);
    assert.equal(record.state, 'rejected');
    assert.ok(record.findings.some((finding) => finding.rule === 'symlink-escape' && finding.file === 'dags/escape'), JSON.stringify(record.findings));
    assert.equal((await getRepo(engine.client, name)).active?.commit, good);
    git.remove('dags/escape');
    git.commitAndPush('remove symlink');
    assert.equal((await syncAndWait(engine.client, name)).state, 'accepted');
  });

  it('does not process the same delivery twice and coalesces a burst of requests', async () => {
    const first = await requestSync(engine.client, name, { reason: 'test', deliveryId: 'github:abc-1' });
    const again = await requestSync(engine.client, name, { reason: 'test', deliveryId: 'github:abc-1' });
    assert.deepEqual(first, { accepted: true, duplicate: false });
    assert.deepEqual(again, { accepted: false, duplicate: true });
    git.write('dags/third.yaml', dagYaml('third'));
    const newest = git.commitAndPush('third');
    await Promise.all(Array.from({ length: 8 }, (_, index) => requestSync(engine.client, name, { reason: `burst ${index}` })));
    const record = await waitForSync(engine, name, newest);
    assert.equal(record.commit, newest);
  });

  it('continues as new after many syncs without losing the live commit, seen deliveries or a request', async () => {
    const handle = engine.client.workflow.getHandle(`repo/${name}`);
    const firstRun = (await handle.describe()).runId;
    const live = (await getRepo(engine.client, name)).active?.commit;
    for (let sync = 0; sync < 26; sync += 1) await syncAndWait(engine.client, name);
    assert.notEqual((await handle.describe()).runId, firstRun);
    assert.equal((await getRepo(engine.client, name)).active?.commit, live);
    assert.deepEqual(await requestSync(engine.client, name, { reason: 'test', deliveryId: 'github:abc-1' }), { accepted: false, duplicate: true });
    git.write('dags/after-can.yaml', dagYaml('after-can'));
    const commit = git.commitAndPush('after continue-as-new');
    await requestSync(engine.client, name, { reason: 'test' });
    assert.equal((await waitForSync(engine, name, commit)).state, 'accepted');
  });

  it('keeps the last good commit when the tracked branch is deleted', async () => {
    const live = (await getRepo(engine.client, name)).active?.commit;
    git.deleteRemoteBranch('main');
    const record = await syncAndWait(engine.client, name);
    assert.equal(record.state, 'rejected');
    assert.match(record.message, /branch "main" does not exist/);
    assert.equal((await getRepo(engine.client, name)).active?.commit, live);
    git.commitAndPush('restore branch');
    assert.equal((await syncAndWait(engine.client, name)).state, 'accepted');
  });

  it('serves synced DAGs from the catalog and pins a run to the live commit', async () => {
    const { catalog } = await loadCatalog({ ...engine.config, dagDirectories: [] }, new ActionRegistry(), engine.client);
    const entry = catalog.get(`${name}/hello`);
    const commit = (await getRepo(engine.client, name)).active?.commit ?? '';
    assert.equal(entry.commit, commit);
    const run = await startRun(engine.client, { dag: entry.dag!, params: {}, taskQueue: engine.taskQueue });
    const status = await engine.wait(run.runId);
    assert.equal(status.state, 'succeeded');
    assert.equal(status.commit, commit);
    const description = await engine.client.workflow.getHandle(run.runId).describe();
    assert.equal(description.typedSearchAttributes.get(COMMIT_KEY), commit);
  });

  it('runs tasks in a checkout of the pinned commit on the worker', async () => {
    git.write('scripts/report.sh', 'echo "report from $(basename "$QUBINODE_REPO_DIR")"\n');
    git.write('dags/reads-file.yaml', 'id: reads-file\ntasks:\n  - id: report\n    uses: shell\n    with: { command: [bash, scripts/report.sh] }\n');
    const commit = git.commitAndPush('script');
    assert.equal((await syncAndWait(engine.client, name)).state, 'accepted');
    const { catalog } = await loadCatalog({ ...engine.config, dagDirectories: [] }, new ActionRegistry(), engine.client);
    const run = await startRun(engine.client, { dag: catalog.get(`${name}/reads-file`).dag!, params: {}, taskQueue: engine.taskQueue });
    const status = await engine.wait(run.runId);
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks[0]?.error));
    assert.equal(status.tasks[0]?.outputs?.stdout, `report from ${commit}\n`);
  });

  it('starts exactly one run for a push that matches on.push', async () => {
    git.write('dags/deploy.yaml', dagYaml('deploy', 'on:\n  push:\n    paths: ["dags/**", "app/**"]\n'));
    const commit = git.commitAndPush('add deploy');
    assert.equal((await syncAndWait(engine.client, name)).state, 'accepted');
    await requestSync(engine.client, name, { reason: 'again' });
    await syncAndWait(engine.client, name);
    const runs: string[] = [];
    for (let tries = 0; tries < 20 && runs.length === 0; tries += 1) {
      for await (const run of engine.client.workflow.list({ query: `QubinodeDag = '${name}/deploy'` })) runs.push(run.workflowId);
      if (runs.length === 0) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.deepEqual(runs, [`dag/${name}/deploy/push-${commit.slice(0, 12)}`]);
    assert.equal((await engine.wait(runs[0] ?? '')).state, 'succeeded');
  });
});

async function waitForSync(engine: TestEngine, name: string, commit?: string) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const view = await getRepo(engine.client, name);
    if (view.lastSync && !view.syncing && !view.pending && (!commit || view.lastSync.commit === commit)) return view.lastSync;
    if (Date.now() > deadline) throw new Error(`no sync result: ${JSON.stringify(view.lastSync)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
