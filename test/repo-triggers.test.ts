import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createRepoTriggerActivities } from '../activities/platform/repo-triggers';
import { addRepo, getRepo, removeRepo, syncAndWait } from '../client/repos';
import { RepoConfig } from '../dag-repos/schema/repo-config';
import { startTestEngine, type TestEngine } from './support/engine';
import { dagYaml, GitFixture } from './support/git-fixture';
import { until } from './support/waiting';
import { workerTemporalAccess } from '../client/worker-access';
import * as workflowIds from '../workflows/workflow-ids';


describe('repository triggers: schedules, polling, commit statuses', () => {
  let engine: TestEngine;
  let git: GitFixture;
  const repo = `s${randomUUID().slice(0, 8)}`;

  before(async () => {
    engine = await startTestEngine();
    git = new GitFixture();
    git.write('dags/nightly.yaml', dagYaml('nightly', 'on:\n  schedule:\n    cron: "30 2 * * *"\n    timezone: Europe/Berlin\n    overlap: skip\n'));
    git.commitAndPush('nightly');
  });
  after(async () => {
    await removeRepo(engine.client, repo).catch(() => undefined);
    await engine.close();
    git.cleanup();
  });

  it('turns on.schedule into a Temporal Schedule and keeps it in step with the DAG file', async () => {
    await addRepo(engine.client, { name: repo, url: git.bare, poll: '2s' }, engine.taskQueue);
    const scheduleId = `dag/${repo}/nightly/schedule-0`;
    await until(async () => engine.client.schedule.getHandle(scheduleId).describe().then(() => true, () => false), 30_000, `schedule ${scheduleId}`);
    const created = await engine.client.schedule.getHandle(scheduleId).describe();
    assert.deepEqual(created.spec.timezone, 'Europe/Berlin');
    assert.equal(created.policies.overlap, 'SKIP');
    assert.equal(created.action.type === 'startWorkflow' ? created.action.workflowType : '', 'dagRun');

    git.write('dags/nightly.yaml', dagYaml('nightly', 'on:\n  schedule:\n    cron: "0 4 * * *"\n    overlap: allow_all\n'));
    // The 2 s poll may sync the push before the requested sync does (which then finds it unchanged): either way it is live.
    const moved = git.commitAndPush('move to 4am');
    await syncAndWait(engine.client, repo);
    assert.equal((await getRepo(engine.client, repo)).active?.commit, moved);
    const updated = await engine.client.schedule.getHandle(scheduleId).describe();
    assert.equal(updated.policies.overlap, 'ALLOW_ALL');
    assert.equal(updated.spec.timezone ?? 'UTC', 'UTC');

    git.write('dags/nightly.yaml', dagYaml('nightly'));
    const unscheduled = git.commitAndPush('no schedule');
    await syncAndWait(engine.client, repo);
    assert.equal((await getRepo(engine.client, repo)).active?.commit, unscheduled);
    assert.equal(await engine.client.schedule.getHandle(scheduleId).describe().then(() => true, () => false), false);
  });

  it('polls a repository without webhooks and deletes the poll schedule on removal', async () => {
    git.write('dags/polled.yaml', dagYaml('polled'));
    const commit = git.commitAndPush('polled');
    await until(async () => (await getRepo(engine.client, repo)).active?.commit === commit, 45_000, `the poll schedule to sync ${commit}`);
    const pollId = `repo/${repo}/poll`;
    assert.ok(await engine.client.schedule.getHandle(pollId).describe().then(() => true, () => false));
    await removeRepo(engine.client, repo);
    assert.equal(await engine.client.schedule.getHandle(pollId).describe().then(() => true, () => false), false);
  });
});

describe('commit statuses', () => {
  const received: { url: string; auth: string; body: unknown }[] = [];
  const server = createServer((request: IncomingMessage, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push({ url: request.url ?? '', auth: String(request.headers.authorization ?? request.headers['private-token'] ?? ''), body: JSON.parse(body || '{}') as unknown });
      response.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    });
  });
  let base = '';
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    process.env.QUBINODE_TEST_FORGE_TOKEN = 'forge-token-123';
  });
  after(() => server.close());

  // The forge APIs are not reachable from here: a local HTTP server stands in for api.github.com / gitlab.com at the boundary.
  const activities = createRepoTriggerActivities({ runs: workerTemporalAccess.runs, ids: workflowIds, client: () => Promise.reject(new Error('not used')), taskQueue: 'unused' });
  const sha = 'a'.repeat(40);

  it('posts a failure status to GitHub for a rejected commit', async () => {
    const config = RepoConfig.parse({ name: 'gh', url: 'https://github.com/acme/dags.git', forge: 'github', tokenEnv: 'QUBINODE_TEST_FORGE_TOKEN', apiUrl: base });
    const result = await new MockActivityEnvironment().run(activities.reportCommitStatus, { config, commit: sha, ok: false, description: 'commit rejected: 1 invalid file' });
    assert.equal(result, 'github: posted');
    const last = received.at(-1);
    assert.equal(last?.url, `/repos/acme/dags/statuses/${sha}`);
    assert.match(last?.auth ?? '', /forge-token-123/);
    assert.deepEqual(last?.body, { state: 'failure', context: 'qubinode/dags', description: 'commit rejected: 1 invalid file' });
  });

  it('posts a success status to GitLab with the project path encoded', async () => {
    const config = RepoConfig.parse({ name: 'gl', url: 'git@gitlab.example.com:infra/hv/dags.git', forge: 'gitlab', tokenEnv: 'QUBINODE_TEST_FORGE_TOKEN', apiUrl: base });
    assert.equal(await new MockActivityEnvironment().run(activities.reportCommitStatus, { config, commit: sha, ok: true, description: 'accepted' }), 'gitlab: posted');
    const last = received.at(-1);
    assert.equal(last?.url, `/projects/infra%2Fhv%2Fdags/statuses/${sha}`);
    assert.equal(last?.auth, 'forge-token-123');
    assert.deepEqual(last?.body, { state: 'success', name: 'qubinode/dags', description: 'accepted' });
  });

  it('skips quietly when no token is configured', async () => {
    const config = RepoConfig.parse({ name: 'plain', url: 'https://github.com/acme/dags.git', forge: 'github' });
    assert.match(await new MockActivityEnvironment().run(activities.reportCommitStatus, { config, commit: sha, ok: true, description: 'x' }), /^skipped/);
  });
});
