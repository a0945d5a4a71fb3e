import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import Fastify, { type FastifyInstance } from 'fastify';
import { createCatalogCache, type CatalogCache } from '../api/catalog-cache';
import { registerWebhookRoutes } from '../api/webhooks';
import { listAudit } from '../client/audit';
import { loadCatalog, type LoadedCatalog } from '../client/catalog';
import { connectionOptions } from '../config/temporal-connection';
import { addRepo, removeRepo } from '../client/repos';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { CompositeCatalog } from '../dag-repos/catalog/composite-catalog';
import { RepoConfig } from '../dag-repos/schema/repo-config';
import { LocalCatalog } from '../dag-repos/catalog/local-catalog';
import { hmacSignature, signTrigger } from '../dag-repos/git/webhook-verify';
import { qubinodeFromSource } from './support/cli';
import { startTestEngine, type TestEngine } from './support/engine';
import { GitFixture, dagYaml } from './support/git-fixture';
import { until } from './support/waiting';

const SECRET = 'replay-test-secret-0123456789abcdefghij';
const PUSH_SECRET = 'push-test-secret-0123456789abcdefghij';
const WINDOW_SECONDS = 300;

const now = (): number => Math.floor(Date.now() / 1000);

describe('signed triggers cannot be replayed, forged requests cost no Temporal call (real HTTP, real Temporal)', () => {
  let engine: TestEngine;
  let git: GitFixture;
  let app: FastifyInstance;
  let cache: CatalogCache;
  let counted: Connection;
  let base = '';
  const dagDir = mkdtempSync(path.join(tmpdir(), 'qubinode-replay-dags-'));
  const local = `hooks${randomUUID().slice(0, 6)}`;
  const repo = `r${randomUUID().slice(0, 8)}`;
  // Every gRPC call the receiver's client makes to Temporal, by method: counted, not mocked.
  const calls: string[] = [];

  const trigger = (dag: string, body: string, headers: Record<string, string>): Promise<Response> =>
    fetch(`${base}/trigger/${local}/${dag}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const signed = (body: string, delivery: string, timestamp = now(), secret = SECRET): Record<string, string> => signTrigger(secret, body, { delivery, timestamp });
  const answer = async (response: Response): Promise<[number, string, string]> => [response.status, response.headers.get('content-type') ?? '', await response.text()];
  const executionsOf = async (workflowId: string): Promise<number> => {
    let count = 0;
    for await (const _ of engine.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) count += 1;
    return count;
  };

  before(async () => {
    engine = await startTestEngine();
    writeFileSync(
      path.join(dagDir, 'replay.yaml'),
      `id: replay
params:
  vm: { type: string, required: true, pattern: '[a-z0-9-]+' }
on:
  webhook:
    secretEnv: QUBINODE_WEBHOOK_TEST_REPLAY
    params:
      vm: \${{ payload.vm }}
tasks:
  - id: say
    uses: shell
    with: { command: [echo, "\${{ params.vm }}"] }
`,
    );
    writeFileSync(path.join(dagDir, 'weak.yaml'), dagYaml('weak', 'on:\n  webhook:\n    secretEnv: QUBINODE_WEBHOOK_TEST_WEAK\n'));
    writeFileSync(path.join(dagDir, 'plain.yaml'), dagYaml('plain'));
    // A registered repository, so /hooks has a known name to compare with unknown ones.
    git = new GitFixture();
    git.write('dags/hello.yaml', dagYaml('hello'));
    git.commitAndPush('first');
    await addRepo(engine.client, { name: repo, url: git.bare, webhookSecretEnv: 'QUBINODE_TEST_PUSH_SECRET' }, engine.taskQueue);

    type GrpcInterceptor = NonNullable<ConnectionOptions['interceptors']>[number];
    const interceptors: GrpcInterceptor[] = [
      (options, nextCall) => {
        calls.push(options.method_definition.path);
        // The next call is passed on untouched (grpc-js accepts any intercepting-call interface here).
        return nextCall(options) as ReturnType<GrpcInterceptor>;
      },
    ];
    counted = await Connection.connect({ ...connectionOptions(engine.config.temporal), interceptors });
    const client = new Client({ connection: counted, namespace: engine.config.temporal.namespace });
    const config = { ...engine.config, taskQueue: engine.taskQueue, dagDirectories: [{ repo: local, dir: dagDir }], api: { ...engine.config.api, triggerWindowSeconds: WINDOW_SECONDS } };
    const registry = new ActionRegistry();
    // Refreshed only when asked, so any Temporal call seen below was caused by a request.
    cache = createCatalogCache({ load: () => loadCatalog(config, registry, client), refreshMs: 3_600_000 });
    await until(async () => (await cache.fresh()).repos.has(repo), 30_000, `repository ${repo} in the catalog cache`);
    app = Fastify();
    await registerWebhookRoutes(app, {
      config,
      client,
      registry,
      catalogCache: cache,
      env: { QUBINODE_WEBHOOK_TEST_REPLAY: SECRET, QUBINODE_WEBHOOK_TEST_WEAK: 'too-short-to-be-a-secret', QUBINODE_TEST_PUSH_SECRET: PUSH_SECRET },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await app.close();
    cache.close();
    await counted.close();
    await removeRepo(engine.client, repo).catch(() => undefined);
    await engine.close();
    git.cleanup();
    rmSync(dagDir, { recursive: true, force: true });
  });

  it('starts one run for a signed delivery and refuses the same request posted again, leaving one run', async () => {
    const delivery = `replay-${randomUUID()}`;
    const body = JSON.stringify({ vm: 'web-1' });
    const headers = signed(body, delivery);
    const first = await trigger('replay', body, headers);
    assert.equal(first.status, 202, await first.clone().text());
    const { runId } = (await first.json()) as { runId: string };
    assert.equal(runId, `dag/${local}/replay/hook-${delivery}`);

    const replayed = await trigger('replay', body, headers);
    assert.equal(replayed.status, 409);
    assert.deepEqual(await replayed.json(), { error: `delivery "${delivery}" was already accepted`, duplicate: true });
    // Also once the first run has finished: Temporal keeps refusing the id for the namespace's retention.
    await engine.wait(runId);
    assert.equal((await trigger('replay', body, headers)).status, 409);
    await until(async () => (await executionsOf(runId)) > 0, 20_000, `${runId} in visibility`);
    assert.equal(await executionsOf(runId), 1);

    // The run and the audit trail name the trigger as the starter; the replays are recorded as refused.
    const actor = `trigger:${local}/replay`;
    assert.equal(((await engine.client.workflow.getHandle(runId).describe()).memo as { startedBy?: string }).startedBy, actor);
    let outcomes: string[] = [];
    await until(
      async () => {
        outcomes = (await listAudit(engine.client, { user: actor, action: 'run.start', since: new Date(Date.now() - 600_000) })).map((entry) => `${entry.outcome} ${entry.detail ?? ''}`);
        return outcomes.length >= 3;
      },
      20_000,
      'three audit entries of the trigger',
    );
    assert.deepEqual(outcomes.sort(), [`ok delivery ${delivery}`, `refused delivery ${delivery} was already accepted`, `refused delivery ${delivery} was already accepted`]);
  });

  it('starts a run from headers made by `qubinode trigger sign`, which reads the secret from the environment', async () => {
    const bodyFile = path.join(dagDir, 'body.json');
    writeFileSync(bodyFile, JSON.stringify({ vm: 'from-cli' }));
    const signedByCli = await qubinodeFromSource(['trigger', 'sign', '--secret-env', 'QUBINODE_WEBHOOK_CLI_TEST', '--file', bodyFile], { QUBINODE_WEBHOOK_CLI_TEST: SECRET });
    assert.equal(signedByCli.code, 0, signedByCli.stderr);
    assert.doesNotMatch(signedByCli.stdout, new RegExp(SECRET));
    const headers = Object.fromEntries(signedByCli.stdout.trim().split('\n').map((line) => line.split(': ') as [string, string]));
    assert.deepEqual(Object.keys(headers).sort(), ['x-qubinode-delivery', 'x-qubinode-signature-256', 'x-qubinode-timestamp']);
    const response = await trigger('replay', JSON.stringify({ vm: 'from-cli' }), headers);
    assert.equal(response.status, 202, await response.clone().text());

    const weak = await qubinodeFromSource(['trigger', 'sign', '--secret-env', 'QUBINODE_WEBHOOK_CLI_TEST', '--file', bodyFile], { QUBINODE_WEBHOOK_CLI_TEST: 'short' });
    assert.equal(weak.code, 2);
    assert.match(weak.stderr, /shorter than 32 characters/);
  });

  it('refuses a captured request whose delivery id was changed, because the signature covers the delivery id', async () => {
    const body = JSON.stringify({ vm: 'web-2' });
    const captured = signed(body, `orig-${randomUUID()}`);
    const changed = `fresh-${randomUUID()}`;
    const response = await trigger('replay', body, { ...captured, 'x-qubinode-delivery': changed });
    assert.equal(response.status, 401);
    assert.match(((await response.json()) as { error: string }).error, /signature does not match/);
    assert.equal(await engine.client.workflow.getHandle(`dag/${local}/replay/hook-${changed}`).describe().then(() => 'exists', () => 'none'), 'none');
  });

  it('refuses a correctly signed request whose timestamp is older than the window', async () => {
    const body = JSON.stringify({ vm: 'web-3' });
    const delivery = `old-${randomUUID()}`;
    const response = await trigger('replay', body, signed(body, delivery, now() - WINDOW_SECONDS - 60));
    assert.equal(response.status, 401);
    assert.match(((await response.json()) as { error: string }).error, /outside the accepted window/);
    assert.equal(await engine.client.workflow.getHandle(`dag/${local}/replay/hook-${delivery}`).describe().then(() => 'exists', () => 'none'), 'none');
  });

  it('refuses a correctly signed request whose timestamp is in the future beyond the window', async () => {
    const body = JSON.stringify({ vm: 'web-4' });
    const response = await trigger('replay', body, signed(body, `future-${randomUUID()}`, now() + WINDOW_SECONDS + 60));
    assert.equal(response.status, 401);
    assert.match(((await response.json()) as { error: string }).error, /outside the accepted window/);
  });

  it('refuses a captured request whose timestamp was moved forward, because the signature covers the timestamp', async () => {
    const body = JSON.stringify({ vm: 'web-5' });
    const captured = signed(body, `moved-${randomUUID()}`, now() - WINDOW_SECONDS - 60);
    const response = await trigger('replay', body, { ...captured, 'x-qubinode-timestamp': String(now()) });
    assert.equal(response.status, 401);
    assert.match(((await response.json()) as { error: string }).error, /signature does not match/);
  });

  it('refuses a request without the timestamp, the delivery id or the signature with 401', async () => {
    const body = JSON.stringify({ vm: 'web-6' });
    const full = signed(body, `headers-${randomUUID()}`);
    for (const missing of Object.keys(full)) {
      const headers = Object.fromEntries(Object.entries(full).filter(([name]) => name !== missing));
      const response = await trigger('replay', body, headers);
      assert.equal(response.status, 401, `without ${missing}`);
      assert.match(((await response.json()) as { error: string }).error, /are required/);
    }
    // The signature scheme of the previous release (body only, no timestamp) is not accepted either.
    assert.equal((await trigger('replay', body, { 'x-qubinode-signature-256': hmacSignature(SECRET, body) })).status, 401);
  });

  it('refuses delivery ids with path characters or outside 8-64 characters, even when correctly signed', async () => {
    const body = JSON.stringify({ vm: 'web-7' });
    for (const delivery of ['../../../etc/passwd', 'a/b/c/d/e', 'short', 'x'.repeat(65), 'id with spaces', 'ümlaut-id-123']) {
      const response = await trigger('replay', body, signed(body, delivery));
      assert.equal(response.status, 401, delivery);
    }
  });

  it('refuses a body over 1 MiB with 413 before anything is checked', async () => {
    const body = JSON.stringify({ vm: 'x'.repeat(1024 * 1024 + 10) });
    assert.equal((await trigger('replay', body, signed(body, `huge-${randomUUID()}`))).status, 413);
  });

  it('answers a signed but deeply nested or malformed payload with 400 and starts nothing', async () => {
    const depth = 400_000;
    for (const body of [`{"vm": ${'['.repeat(depth)}${']'.repeat(depth)}}`, `{"vm": ${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}}`, '{"vm": "web-1"', 'not json at all']) {
      const delivery = `nested-${randomUUID()}`;
      const response = await trigger('replay', body, signed(body, delivery));
      assert.equal(response.status, 400, body.slice(0, 40));
      assert.equal(await engine.client.workflow.getHandle(`dag/${local}/replay/hook-${delivery}`).describe().then(() => 'exists', () => 'none'), 'none');
    }
  });

  it('refuses a correctly signed request when the DAG\'s secret is shorter than 32 characters', async () => {
    assert.equal((await cache.latest()).catalog.get(`${local}/weak`).dag?.triggers?.webhook?.secretEnv, 'QUBINODE_WEBHOOK_TEST_WEAK');
    const body = '{}';
    const response = await trigger('weak', body, signed(body, `weak-${randomUUID()}`, now(), 'too-short-to-be-a-secret'));
    assert.equal(response.status, 401);
  });

  it('answers an unknown DAG, a DAG without on.webhook and a wrong signature byte for byte alike', async () => {
    const body = JSON.stringify({ vm: 'web-8' });
    const headers = signed(body, `alike-${randomUUID()}`, now(), 'a-guess-at-the-secret-0123456789abcdef');
    const wrong = await answer(await trigger('replay', body, headers));
    assert.equal(wrong[0], 401);
    assert.deepEqual(await answer(await trigger('no-such-dag', body, headers)), wrong);
    assert.deepEqual(await answer(await trigger('plain', body, headers)), wrong);
    assert.deepEqual(await answer(await fetch(`${base}/trigger/no-such-repo/replay`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body })), wrong);
  });

  it('answers /hooks for an unknown forge, an unknown repository, and a known one unsigned or badly signed byte for byte alike', async () => {
    const body = JSON.stringify({ ref: 'refs/heads/main', after: 'a'.repeat(40) });
    const push = (url: string, headers: Record<string, string>): Promise<Response> => fetch(`${base}${url}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), ...headers }, body });
    const forged = { 'x-hub-signature-256': hmacSignature('a-guess-at-the-secret', body) };
    const known = await answer(await push(`/hooks/github/${repo}`, forged));
    assert.equal(known[0], 401);
    assert.deepEqual(await answer(await push(`/hooks/github/${repo}`, {})), known);
    assert.deepEqual(await answer(await push('/hooks/github/no-such-repository', forged)), known);
    assert.deepEqual(await answer(await push('/hooks/github/no-such-repository', { 'x-hub-signature-256': hmacSignature(PUSH_SECRET, body) })), known);
    assert.deepEqual(await answer(await push(`/hooks/sourcehut/${repo}`, { 'x-hub-signature-256': hmacSignature(PUSH_SECRET, body) })), known);
    assert.deepEqual(await answer(await push(`/hooks/gitlab/${repo}`, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 'a-guess' })), known);
  });

  it('makes no Temporal call for forged trigger and push requests, and one start for a genuine trigger', async () => {
    await cache.latest();
    const before = calls.length;
    const body = JSON.stringify({ vm: 'web-9' });
    const guess = 'a-guess-at-the-secret-0123456789abcdef';
    for (let index = 0; index < 20; index += 1) {
      await trigger('replay', body, signed(body, `forged-${randomUUID()}`, now(), guess));
      await trigger(`no-such-dag-${index}`, body, signed(body, `forged-${randomUUID()}`, now(), guess));
      await trigger('replay', body, {});
      await fetch(`${base}/hooks/github/no-such-repository-${index}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': hmacSignature(guess, body) }, body });
      await fetch(`${base}/hooks/github/${repo}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': hmacSignature(guess, body) }, body });
    }
    assert.deepEqual(calls.slice(before), []);
    const genuine = await trigger('replay', body, signed(body, `genuine-${randomUUID()}`));
    assert.equal(genuine.status, 202, await genuine.clone().text());
    assert.ok(calls.slice(before).some((method) => method.endsWith('/StartWorkflowExecution')), calls.slice(before).join(', '));
  });

  // Last: it removes the repository.
  it('answers a signed push for a repository removed since the cache loaded like an unknown one, not with a 500', async () => {
    const body = JSON.stringify({ ref: 'refs/heads/main', after: git.head() });
    const push = (signature: string): Promise<Response> =>
      fetch(`${base}/hooks/github/${repo}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': signature }, body });
    const unknown = await answer(await push(hmacSignature('a-guess-at-the-secret', body)));
    await removeRepo(engine.client, repo);
    assert.ok((await cache.latest()).repos.has(repo), 'the cache still lists the removed repository');
    assert.deepEqual(await answer(await push(hmacSignature(PUSH_SECRET, body))), unknown);
  });
});

describe('catalog cache', () => {
  const loaded = (tag: string): LoadedCatalog => ({ catalog: new CompositeCatalog(LocalCatalog.load([], new ActionRegistry()), []), repos: [], warning: tag });

  it('coalesces concurrent reads into one load and reloads after an invalidation', async () => {
    let loads = 0;
    let release: () => void = () => undefined;
    const cache = createCatalogCache({
      load: async () => {
        loads += 1;
        await new Promise<void>((resolve) => (release = resolve));
        return loaded(`load ${loads}`);
      },
      refreshMs: 3_600_000,
    });
    try {
      const readers = [cache.latest(), cache.latest(), cache.fresh(), cache.fresh()];
      release();
      const snapshots = await Promise.all(readers);
      assert.equal(loads, 1);
      assert.ok(snapshots.every((snapshot) => snapshot === snapshots[0]));
      assert.equal((await cache.latest()).warning, 'load 1');

      cache.invalidate();
      const fresh = cache.fresh();
      // A stale snapshot is still served to the webhook receivers while the reload runs.
      assert.equal((await cache.latest()).warning, 'load 1');
      release();
      assert.equal((await fresh).warning, 'load 2');
      assert.equal(loads, 2);
    } finally {
      cache.close();
    }
  });

  it('keeps serving the last complete snapshot when reloads fail or cannot list repositories', async () => {
    let mode: 'good' | 'throw' | 'no-repos' = 'good';
    const repo = RepoConfig.parse({ name: 'infra', url: 'https://git.example.com/infra.git', webhookSecretEnv: 'QUBINODE_TEST_SECRET' });
    const cache = createCatalogCache({
      load: async () => {
        if (mode === 'throw') throw new Error('Temporal went away');
        const base = loaded('');
        return mode === 'good' ? { catalog: base.catalog, repos: [repo] } : { ...base, warning: 'Git repositories are not listed: unavailable' };
      },
      refreshMs: 3_600_000,
      onError: () => undefined,
    });
    try {
      assert.ok((await cache.fresh()).repos.has('infra'));
      mode = 'throw';
      cache.invalidate();
      assert.ok((await cache.fresh()).repos.has('infra'));
      mode = 'no-repos';
      for (let round = 0; round < 2; round += 1) {
        cache.invalidate();
        const snapshot = await cache.fresh();
        assert.ok(snapshot.repos.has('infra'), `round ${round}`);
        assert.match(snapshot.warning ?? '', /not listed/);
      }
    } finally {
      cache.close();
    }
  });
});
