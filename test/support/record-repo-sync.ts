import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { addRepo, getRepo, removeRepo, signalSync } from '../../client/repos';
import { repoWorkflowId } from '../../workflows/workflow-ids';
import { startTestEngine, type TestEngine } from './engine';
import { dagYaml, GitFixture } from './git-fixture';
import { HISTORIES_DIR, historyOf } from './record-histories';
import { until } from './waiting';

/**
 * A repository's sync workflow from its first sync to its removal, as the webhook receiver drives it: a push of the
 * commit already live, then a push of a new one, each signalled with the commit the forge named. Saved under
 * test/fixtures/histories/ (as `repo-sync.json` unless named on the command line: repo-sync.json was recorded before
 * the skip-synced-pushes patch, repo-sync.skip-synced-pushes.json after it), which test/replay.test.ts replays
 * against the current workflow code.
 */
export async function recordRepoSync(engine: TestEngine): Promise<unknown> {
  const git = new GitFixture();
  git.write('dags/first.yaml', dagYaml('first'));
  const first = git.commitAndPush('first');
  const name = `replay${randomUUID().slice(0, 6)}`;
  await addRepo(engine.client, { name, url: git.bare }, engine.taskQueue);
  const settledAt = async (commit: string): Promise<void> =>
    until(async () => {
      const view = await getRepo(engine.client, name);
      return view.active?.commit === commit && !view.pending && !view.syncing;
    }, 60_000, `repository ${name} at ${commit.slice(0, 12)}`);
  await settledAt(first);
  await signalSync(engine.client, name, { reason: `github push ${first.slice(0, 12)}`, deliveryId: 'github:replay-1', commit: first }, 10_000);
  git.write('dags/second.yaml', dagYaml('second'));
  const second = git.commitAndPush('second');
  await signalSync(engine.client, name, { reason: `github push ${second.slice(0, 12)}`, deliveryId: 'github:replay-2', commit: second }, 10_000);
  await settledAt(second);
  await removeRepo(engine.client, name);
  return historyOf(engine, repoWorkflowId(name));
}

if (require.main === module) {
  void (async () => {
    const engine = await startTestEngine();
    try {
      const name = process.argv[2] ?? 'repo-sync';
      writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), `${JSON.stringify(await recordRepoSync(engine), null, 2)}\n`);
      console.log(`saved ${name}.json`);
    } finally {
      await engine.close();
    }
  })().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
