import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Worker } from '@temporalio/worker';
import { catalogLoader } from '../client/catalog';
import { addRepo, getRepo, removeRepo } from '../client/repos';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { startTestEngine, type TestEngine } from './support/engine';
import { dagYaml, GitFixture } from './support/git-fixture';
import { until } from './support/waiting';

/**
 * The API reloads its registry of repositories every few seconds; under a burst of pushes a repository's
 * workflow may not answer one of those reloads. That must not unregister it (its pushes would be refused 401).
 */
describe('the catalog loader of a long-running API process', () => {
  let engine: TestEngine;
  let git: GitFixture;
  const stalled = `st${randomUUID().slice(0, 8)}`;
  const removed = `rm${randomUUID().slice(0, 8)}`;
  const stalledQueue = `stalled-${randomUUID().slice(0, 8)}`;
  let stalledWorker: Worker;

  before(async () => {
    engine = await startTestEngine();
    git = new GitFixture();
    git.write('dags/hello.yaml', dagYaml('hello'));
    git.commitAndPush('first');
    stalledWorker = await engine.addWorker(stalledQueue, true);
    await addRepo(engine.client, { name: stalled, url: git.bare }, stalledQueue);
    await addRepo(engine.client, { name: removed, url: git.bare }, engine.taskQueue);
    await until(async () => (await getRepo(engine.client, stalled)).active !== undefined && (await getRepo(engine.client, removed)).active !== undefined, 60_000, 'the first syncs');
  });

  after(async () => {
    await engine.close();
    git.cleanup();
  });

  it('keeps a repository whose workflow does not answer a reload, and drops one that was removed', async () => {
    const load = catalogLoader({ ...engine.config, dagDirectories: [] }, new ActionRegistry(), engine.client);
    const first = await load();
    assert.deepEqual(first.repos.map((repo) => repo.name).filter((name) => [stalled, removed].includes(name)).sort(), [removed, stalled].sort());

    // The stalled repository's only worker stops: its workflow cannot answer a query any more.
    stalledWorker.shutdown();
    await until(() => stalledWorker.getState() === 'STOPPED', 30_000, 'the stalled repository\'s worker to stop');
    await removeRepo(engine.client, removed);

    const second = await load();
    const names = second.repos.map((repo) => repo.name);
    assert.ok(names.includes(stalled), `the unanswering repository stays registered (listed: ${names.join(', ')})`);
    assert.ok(!names.includes(removed), 'the removed repository is gone');
    assert.ok(second.catalog.list().some((entry) => entry.id === `${stalled}/hello`), 'its DAGs stay in the catalog');
    assert.equal(second.warning, undefined);
  });
});
