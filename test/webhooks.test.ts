import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildApiServer } from '../api/server';
import { createLogger } from '../config/logger';
import { addRepo, getRepo, removeRepo } from '../client/repos';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { hmacSignature, signTrigger } from '../dag-repos/git/webhook-verify';
import { startTestEngine, type TestEngine } from './support/engine';
import { dagYaml, GitFixture } from './support/git-fixture';
import { until } from './support/waiting';

/** Whether the API still holds a note that `repo` needs a sync (a push answered before its signal was taken). */
function notedForSync(engine: TestEngine, repo: string): boolean {
  const directory = path.join(engine.config.dataDir, 'api', 'sync-due');
  return existsSync(directory) && readdirSync(directory).some((file) => readFileSync(path.join(directory, file), 'utf8') === repo);
}

const SECRET = 'hook-secret-for-tests-1234';
const TRIGGER_SECRET = 'trigger-secret-for-tests-0123456789abcdef';

interface Delivery {
  headers: Record<string, string>;
  body: string;
}

/** What each forge sends for a push of `commit` to `branch`, signed the way that forge signs. */
function pushDelivery(forge: string, branch: string, commit: string, id: string, secret = SECRET): Delivery {
  if (forge === 'github') {
    const body = JSON.stringify({ ref: `refs/heads/${branch}`, after: commit, repository: { full_name: 'acme/dags' } });
    return { body, headers: { 'x-github-event': 'push', 'x-github-delivery': id, 'x-hub-signature-256': hmacSignature(secret, body) } };
  }
  if (forge === 'gitlab') {
    const body = JSON.stringify({ object_kind: 'push', ref: `refs/heads/${branch}`, after: commit, checkout_sha: commit });
    return { body, headers: { 'x-gitlab-event': 'Push Hook', 'x-gitlab-event-uuid': id, 'x-gitlab-token': secret } };
  }
  const body = JSON.stringify({ push: { changes: [{ new: { type: 'branch', name: branch, target: { hash: commit } } }] } });
  return { body, headers: { 'x-event-key': 'repo:push', 'x-request-uuid': id, 'x-hub-signature': hmacSignature(secret, body) } };
}

describe('webhook receiver (real HTTP, real git, real Temporal)', () => {
  let engine: TestEngine;
  let git: GitFixture;
  let app: ReturnType<typeof buildApiServer>;
  let base: string;
  const repo = `w${randomUUID().slice(0, 8)}`;
  const post = (url: string, delivery: Delivery, contentType = 'application/json'): Promise<Response> =>
    fetch(`${base}${url}`, { method: 'POST', headers: { 'content-type': contentType, ...delivery.headers }, body: delivery.body });

  before(async () => {
    process.env.QUBINODE_TEST_HOOK_SECRET = SECRET;
    process.env.QUBINODE_WEBHOOK_TEST_PROVISION = TRIGGER_SECRET;
    engine = await startTestEngine();
    git = new GitFixture();
    git.write('dags/hello.yaml', dagYaml('hello'));
    git.write(
      'dags/provision.yaml',
      `id: provision
params:
  vm: { type: string, required: true, pattern: '[a-z0-9-]+' }
  memory: { type: integer, default: 1024, min: 512 }
on:
  webhook:
    secretEnv: QUBINODE_WEBHOOK_TEST_PROVISION
    params:
      vm: \${{ payload.vm.name }}
      memory: \${{ payload.vm.memory }}
tasks:
  - id: say
    uses: shell
    with: { command: [echo, "\${{ params.vm }} \${{ params.memory }}"] }
`,
    );
    git.commitAndPush('first');
    await addRepo(engine.client, { name: repo, url: git.bare, webhookSecretEnv: 'QUBINODE_TEST_HOOK_SECRET' }, engine.taskQueue);
    await until(async () => (await getRepo(engine.client, repo)).active !== undefined, 30_000, 'the first sync');
    const config = { ...engine.config, taskQueue: engine.taskQueue, dagDirectories: [] };
    app = buildApiServer({ config, logger: createLogger('error', 'hooks-test'), client: engine.client, registry: new ActionRegistry(), token: 'unused-token-for-this-test' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await app.close();
    await removeRepo(engine.client, repo).catch(() => undefined);
    await engine.close();
    git.cleanup();
  });

  for (const forge of ['github', 'gitlab', 'bitbucket']) {
    describe(forge, () => {
      it('accepts a signed push to the tracked branch with 202 and the new commit goes live', async () => {
        git.write(`dags/${forge}.yaml`, dagYaml(forge));
        const commit = git.commitAndPush(`add ${forge}`);
        const response = await post(`/hooks/${forge}/${repo}`, pushDelivery(forge, 'main', commit, randomUUID()));
        assert.equal(response.status, 202, await response.clone().text());
        assert.equal(((await response.json()) as { accepted: boolean }).accepted, true);
        await until(async () => (await getRepo(engine.client, repo)).active?.commit === commit, 30_000, `commit ${commit} to go live`);
        assert.ok((await getRepo(engine.client, repo)).active?.dags.some((dag) => dag.id === forge));
      });

      it('refuses unsigned and tampered deliveries with 401 and no sync', async () => {
        // Pushes of the tests before may still be on their way (answered from a note, signalled after): let them land first.
        await until(async () => {
          const view = await getRepo(engine.client, repo);
          return !notedForSync(engine, repo) && !view.pending && !view.syncing;
        }, 30_000, 'the pushes of the tests before to be synced');
        const before = (await getRepo(engine.client, repo)).lastSync?.at;
        const delivery = pushDelivery(forge, 'main', git.head(), randomUUID());
        const unsigned = { ...delivery, headers: Object.fromEntries(Object.entries(delivery.headers).filter(([name]) => !/signature|token/.test(name))) };
        assert.equal((await post(`/hooks/${forge}/${repo}`, unsigned)).status, 401);
        if (forge !== 'gitlab') {
          // GitLab sends a shared token, not a signature over the body: only HMAC forges can detect a changed body.
          const tampered = { ...delivery, body: delivery.body.replace('main', 'mainx') };
          assert.equal((await post(`/hooks/${forge}/${repo}`, tampered)).status, 401);
        }
        const wrongSecret = pushDelivery(forge, 'main', git.head(), randomUUID(), 'not-the-secret-at-all');
        assert.equal((await post(`/hooks/${forge}/${repo}`, wrongSecret)).status, 401);
        await new Promise((resolve) => setTimeout(resolve, 300));
        const view = await getRepo(engine.client, repo);
        assert.equal(view.lastSync?.at, before);
        assert.equal(view.pending, false);
      });

      it('processes a redelivered event only once', async () => {
        const delivery = pushDelivery(forge, 'main', git.head(), randomUUID());
        assert.equal((await post(`/hooks/${forge}/${repo}`, delivery)).status, 202);
        const replay = await post(`/hooks/${forge}/${repo}`, delivery);
        assert.equal(replay.status, 200);
        assert.equal(((await replay.json()) as { duplicate: boolean }).duplicate, true);
      });

      it('answers a push to another branch with 202 and the reason', async () => {
        const response = await post(`/hooks/${forge}/${repo}`, pushDelivery(forge, 'feature/x', git.head(), randomUUID()));
        assert.equal(response.status, 202);
        assert.match(((await response.json()) as { reason: string }).reason, /branch "feature\/x" is not tracked/);
      });

      it('rejects malformed JSON with 400 and bodies over 1 MiB with 413', async () => {
        const broken = '{"ref": "refs/heads/main",';
        const signed: Delivery = { body: broken, headers: { ...pushDelivery(forge, 'main', git.head(), randomUUID()).headers } };
        if (forge === 'github') signed.headers['x-hub-signature-256'] = hmacSignature(SECRET, broken);
        if (forge === 'bitbucket') signed.headers['x-hub-signature'] = hmacSignature(SECRET, broken);
        assert.equal((await post(`/hooks/${forge}/${repo}`, signed)).status, 400);
        const huge = JSON.stringify({ ref: 'refs/heads/main', padding: 'x'.repeat(1024 * 1024 + 10) });
        assert.equal((await post(`/hooks/${forge}/${repo}`, { body: huge, headers: pushDelivery(forge, 'main', git.head(), randomUUID()).headers })).status, 413);
      });
    });
  }

  it("lists a repository's last deliveries newest first with their answers, keeping nothing of a delivery that did not verify", async () => {
    const token = 'unused-token-for-this-test';
    const deliveriesOf = async (url: string): Promise<Record<string, unknown>[]> => {
      const answer = await fetch(`${base}${url}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(answer.status, 200);
      const body = (await answer.json()) as { deliveries: Record<string, unknown>[] } | { config: { name: string }; deliveries: Record<string, unknown>[] }[];
      return Array.isArray(body) ? (body.find((entry) => entry.config.name === repo)?.deliveries ?? []) : body.deliveries;
    };
    const already = (await deliveriesOf(`/api/repos/${repo}`)).length;
    const canary = `canary-${randomUUID()}`;
    const forged = pushDelivery('github', 'main', '1'.repeat(40), `${canary} $(id) ${'y'.repeat(100)}`, 'not-the-secret-at-all');
    assert.equal((await post(`/hooks/github/${repo}`, forged)).status, 401);
    assert.equal((await post(`/hooks/github/unknown-${repo}`, forged)).status, 401);
    const id = randomUUID();
    assert.equal((await post(`/hooks/github/${repo}`, pushDelivery('github', 'main', git.head(), id))).status, 202);
    // Kept once the answer is sent: poll rather than race the server's response hook.
    await until(async () => (await deliveriesOf(`/api/repos/${repo}`)).length >= Math.min(already + 2, 50), 10_000, 'both deliveries to be listed');
    const [newest, refused] = await deliveriesOf(`/api/repos/${repo}`);
    assert.deepEqual({ ...newest, at: undefined }, { at: undefined, forge: 'github', outcome: 'accepted', status: 202, event: 'push', commit: git.head(), deliveryId: id });
    assert.deepEqual({ ...refused, at: undefined }, { at: undefined, forge: 'github', outcome: 'bad_signature', status: 401 });
    assert.ok(Date.parse(String(newest?.at)) >= Date.parse(String(refused?.at)));
    const listed = await deliveriesOf('/api/repos');
    assert.deepEqual(listed.slice(0, 2), [newest, refused]);
    assert.ok(!JSON.stringify(listed).includes(canary), 'a delivery id that did not verify is never shown');
  });

  it('answers GitHub and Bitbucket pings', async () => {
    const body = JSON.stringify({ zen: 'Keep it logically awesome.' });
    const github = await post(`/hooks/github/${repo}`, { body, headers: { 'x-github-event': 'ping', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': hmacSignature(SECRET, body) } });
    assert.equal(github.status, 200);
    const bitbucket = await post(`/hooks/bitbucket/${repo}`, { body, headers: { 'x-event-key': 'diagnostics:ping', 'x-hub-signature': hmacSignature(SECRET, body) } });
    assert.equal(bitbucket.status, 200);
  });

  it('accepts GitHub form-encoded deliveries', async () => {
    const payload = JSON.stringify({ ref: 'refs/heads/main', after: git.head() });
    const body = `payload=${encodeURIComponent(payload)}`;
    const response = await post(`/hooks/github/${repo}`, { body, headers: { 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': hmacSignature(SECRET, body) } }, 'application/x-www-form-urlencoded');
    assert.equal(response.status, 202);
  });

  it('answers a push for an unknown repository exactly as a bad signature for a known one', async () => {
    const unknown = await post('/hooks/github/no-such-repo', pushDelivery('github', 'main', git.head(), randomUUID()));
    const forged = await post(`/hooks/github/${repo}`, pushDelivery('github', 'main', git.head(), randomUUID(), 'not-the-secret-at-all'));
    assert.equal(unknown.status, 401);
    assert.deepEqual([unknown.status, await unknown.text()], [forged.status, await forged.text()]);
  });

  describe('on.webhook triggers', () => {
    const trigger = (payload: unknown, delivery: string = randomUUID(), secret = TRIGGER_SECRET): Promise<Response> => {
      const body = JSON.stringify(payload);
      return post(`/trigger/${repo}/provision`, { body, headers: signTrigger(secret, body, { delivery, timestamp: Date.now() / 1000 }) });
    };

    it('starts a run with params mapped from the payload', async () => {
      const response = await trigger({ vm: { name: 'web-1', memory: 2048 } }, 'delivery-d1');
      assert.equal(response.status, 202, await response.clone().text());
      const { runId } = (await response.json()) as { runId: string };
      assert.equal(runId, `dag/${repo}/provision/hook-delivery-d1`);
      const status = await engine.wait(runId);
      assert.equal(status.tasks[0]?.outputs?.stdout, 'web-1 2048\n');
      assert.equal((await trigger({ vm: { name: 'web-1', memory: 2048 } }, 'delivery-d1')).status, 409);
    });

    it('validates mapped params against the DAG and checks the signature', async () => {
      const bad = await trigger({ vm: { name: 'Bad Name!', memory: 100 } });
      assert.equal(bad.status, 400);
      const problems = ((await bad.json()) as { problems: { param: string }[] }).problems.map((problem) => problem.param).sort();
      assert.deepEqual(problems, ['memory', 'vm']);
      assert.equal((await trigger({ vm: { name: 'ok' } }, undefined, 'wrong-secret-wrong-secret')).status, 401);
    });
  });
});

