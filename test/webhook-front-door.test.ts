import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import Fastify, { type FastifyInstance } from 'fastify';
import { createCatalogCache, type CatalogCache } from '../api/catalog-cache';
import { buildApiServer } from '../api/server';
import { registerWebhookRoutes } from '../api/webhooks';
import { loadCatalog, type LoadedCatalog } from '../client/catalog';
import { listAudit } from '../client/audit';
import { addRepo, getRepo, removeRepo, repoWorkflowId } from '../client/repos';
import type { QubinodeConfig } from '../config/config';
import { createLogger } from '../config/logger';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { CompositeCatalog } from '../dag-repos/catalog/composite-catalog';
import { LocalCatalog } from '../dag-repos/catalog/local-catalog';
import { hmacSignature, signTrigger } from '../dag-repos/git/webhook-verify';
import { startTestEngine, type TestEngine } from './support/engine';
import { dagYaml, GitFixture } from './support/git-fixture';
import { until } from './support/waiting';

const SECRET = 'front-door-secret-for-tests-1234';
const OTHER_SECRET = 'the-other-repository-secret-5678';
const SECRET_ENV = 'QUBINODE_TEST_FRONT_DOOR_SECRET';
const OTHER_SECRET_ENV = 'QUBINODE_TEST_FRONT_DOOR_OTHER_SECRET';
const TRIGGER_SECRET = 'front-door-trigger-secret-0123456789abcdef';
const TRIGGER_SECRET_ENV = 'QUBINODE_WEBHOOK_TEST_FRONT_DOOR';

/** A GitHub push delivery as GitHub sends it: JSON body, event and delivery headers, HMAC-SHA256 signature. */
function githubPush(commit: string, options: { id?: string; secret?: string; branch?: string; body?: string } = {}): { headers: Record<string, string>; body: string } {
  const body = options.body ?? JSON.stringify({ ref: `refs/heads/${options.branch ?? 'main'}`, before: '0'.repeat(40), after: commit, repository: { full_name: 'acme/dags' }, pusher: { name: 'octo' } });
  return { body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': options.id ?? randomUUID(), 'x-hub-signature-256': hmacSignature(options.secret ?? SECRET, body) } };
}

/** A port nothing listens on: a client pointed there cannot reach Temporal. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A Temporal client that reaches nothing and counts every call made through it. The workflow
 * service is the one door to Temporal: zero calls means the request never reached it.
 */
function unreachableClient(port: number): { client: Client; calls: () => number } {
  const connection = Connection.lazy({ address: `127.0.0.1:${port}` });
  let calls = 0;
  const service = connection.workflowService;
  const counted = new Proxy(service, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls += 1;
        return (value as (...rest: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  Object.defineProperty(connection, 'workflowService', { value: counted });
  return { client: new Client({ connection }), calls: () => calls };
}

/** Sync signals the repository's current workflow run received. */
async function syncSignalsReceived(engine: TestEngine, repo: string): Promise<number> {
  const history = await engine.client.workflow.getHandle(repoWorkflowId(repo)).fetchHistory();
  return (history.events ?? []).filter((event) => event.workflowExecutionSignaledEventAttributes?.signalName === 'syncRequested').length;
}

/** Activities the repository's current workflow run scheduled to sync it. */
async function syncsScheduled(engine: TestEngine, repo: string): Promise<number> {
  const history = await engine.client.workflow.getHandle(repoWorkflowId(repo)).fetchHistory();
  return (history.events ?? []).filter((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'syncRepository').length;
}

describe('webhook front door under load (real HTTP, real git, real Temporal)', () => {
  let engine: TestEngine;
  let git: GitFixture;
  let config: QubinodeConfig;
  const repo = `fd${randomUUID().slice(0, 8)}`;
  const other = `fo${randomUUID().slice(0, 8)}`;
  let app: FastifyInstance;
  let base: string;
  // The webhook routes with a registry read from the real Temporal and a client that reaches nothing.
  let cut: FastifyInstance;
  let cutBase: string;
  let cutRegistry: CatalogCache;
  let cutCalls: () => number;
  const opened: FastifyInstance[] = [];

  const post = (url: string, delivery: { headers: Record<string, string>; body: string }): Promise<Response> => fetch(url, { method: 'POST', headers: delivery.headers, body: delivery.body });

  before(async () => {
    process.env[SECRET_ENV] = SECRET;
    process.env[OTHER_SECRET_ENV] = OTHER_SECRET;
    engine = await startTestEngine();
    git = new GitFixture();
    process.env[TRIGGER_SECRET_ENV] = TRIGGER_SECRET;
    git.write('dags/hello.yaml', dagYaml('hello'));
    git.write('dags/kick.yaml', `id: kick
on:
  webhook:
    secretEnv: ${TRIGGER_SECRET_ENV}
tasks:
  - id: say
    uses: shell
    with: { command: [echo, kicked] }
`);
    git.commitAndPush('first');
    await addRepo(engine.client, { name: repo, url: git.bare, webhookSecretEnv: SECRET_ENV }, engine.taskQueue);
    await addRepo(engine.client, { name: other, url: git.bare, webhookSecretEnv: OTHER_SECRET_ENV }, engine.taskQueue);
    await until(async () => (await getRepo(engine.client, repo)).active !== undefined && (await getRepo(engine.client, other)).active !== undefined, 60_000, 'the first syncs');
    config = { ...engine.config, taskQueue: engine.taskQueue, dagDirectories: [], api: { ...engine.config.api, hooksTemporalTimeoutMs: 500 } };
    const registry = new ActionRegistry();

    // The burst is about coalescing, not the deadline: a loaded test machine must not turn a slow signal into a 503 here.
    app = buildApiServer({ config: { ...config, api: { ...config.api, hooksTemporalTimeoutMs: 15_000 } }, logger: createLogger('error', 'front-door-test'), client: engine.client, registry, token: 'unused-token-for-this-test' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

    const unreachable = unreachableClient(await closedPort());
    cutCalls = unreachable.calls;
    cutRegistry = createCatalogCache({ load: () => loadCatalog(config, registry, engine.client), refreshMs: 500 });
    await until(async () => (await cutRegistry.latest()).dags.has(`${repo}/kick`), 30_000, 'the registry to list the repository and its trigger');
    cut = Fastify({ logger: false });
    await cut.register(async (scope) => registerWebhookRoutes(scope, { config, client: unreachable.client, registry, catalogCache: cutRegistry }));
    await cut.listen({ host: '127.0.0.1', port: 0 });
    cutBase = `http://127.0.0.1:${(cut.server.address() as AddressInfo).port}`;
  });

  after(async () => {
    for (const server of [app, cut, ...opened]) await server?.close();
    await cutRegistry?.close();
    await removeRepo(engine.client, repo).catch(() => undefined);
    await removeRepo(engine.client, other).catch(() => undefined);
    await engine.close();
    git.cleanup();
  });

  describe('with Temporal unreachable from the request path', () => {
    it('refuses forged, unsigned, other-secret and unknown-repository pushes with 401 without one call to Temporal', async () => {
      const head = git.head();
      const valid = githubPush(head);
      const unsigned = { ...valid, headers: Object.fromEntries(Object.entries(valid.headers).filter(([name]) => name !== 'x-hub-signature-256')) };
      const wrong = githubPush(head, { secret: 'not-the-secret-of-any-repository' });
      const otherSecret = githubPush(head, { secret: OTHER_SECRET });
      const tampered = { ...valid, body: valid.body.replace('octo', 'mallory') };
      for (const [what, url, delivery] of [
        ['unsigned', `/hooks/github/${repo}`, unsigned],
        ['wrong secret', `/hooks/github/${repo}`, wrong],
        ["another repository's secret", `/hooks/github/${repo}`, otherSecret],
        ['tampered body', `/hooks/github/${repo}`, tampered],
        ['unknown repository', '/hooks/github/no-such-repository', valid],
        ['unknown forge', `/hooks/sourcehut/${repo}`, valid],
      ] as const) {
        const response = await post(`${cutBase}${url}`, delivery);
        assert.equal(response.status, 401, `${what}: ${await response.text()}`);
      }
      assert.equal(cutCalls(), 0, 'no request reached Temporal');
    });

    it('answers a correctly signed push 503 with Retry-After, not 500, when Temporal does not take it', async () => {
      const response = await post(`${cutBase}/hooks/github/${repo}`, githubPush(git.head()));
      assert.equal(response.status, 503, await response.clone().text());
      assert.equal(response.headers.get('retry-after'), '5');
      assert.match(((await response.json()) as { error: string }).error, /deliver it again/);
      assert.ok(cutCalls() > 0, 'the signed push did try Temporal');
    });

    it('takes a redelivery of a push that got 503 instead of calling it a duplicate', async () => {
      const delivery = githubPush(git.head());
      assert.equal((await post(`${cutBase}/hooks/github/${repo}`, delivery)).status, 503);
      assert.equal((await post(`${cutBase}/hooks/github/${repo}`, delivery)).status, 503);
    });

    it('refuses encoded paths in repository names, oversized bodies and hostile delivery ids without a 500', async () => {
      const before = cutCalls();
      const valid = githubPush(git.head());
      for (const name of ['%2e%2e', '%2e%2e%2F%2e%2e%2Fetc', `..%2F${repo}`, `${repo}%2F..`, `${repo}%00`, '%252e%252e']) {
        const response = await post(`${cutBase}/hooks/github/${name}`, valid);
        assert.ok([401, 404].includes(response.status), `${name}: ${response.status}`);
      }
      const huge = githubPush(git.head(), { body: JSON.stringify({ ref: 'refs/heads/main', padding: 'x'.repeat(1024 * 1024 + 10) }) });
      assert.equal((await post(`${cutBase}/hooks/github/${repo}`, huge)).status, 413);
      assert.equal(cutCalls(), before, 'no hostile request reached Temporal');
      // Signed, so it is taken up to Temporal; what the sender put in the id changes nothing but the id.
      const injected = githubPush(git.head(), { id: 'x'.repeat(4000) + '; rm -rf / $(touch /tmp/canary) \u00e9' });
      assert.equal((await post(`${cutBase}/hooks/github/${repo}`, injected)).status, 503);
    });

    it('answers a signed, deeply nested JSON body without a 500', async () => {
      const depth = 100_000;
      const body = `{"ref":"refs/heads/main","after":"${git.head()}","deep":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      const response = await post(`${cutBase}/hooks/github/${repo}`, githubPush(git.head(), { body }));
      assert.ok([400, 503].includes(response.status), `${response.status}: ${await response.text()}`);
    });

    it('refuses a forged trigger with 401 without calling Temporal, and answers a signed one 503 with Retry-After', async () => {
      const before = cutCalls();
      const body = JSON.stringify({ any: 'thing' });
      const forged = await fetch(`${cutBase}/trigger/${repo}/kick`, { method: 'POST', headers: { 'content-type': 'application/json', ...signTrigger('a-guess-at-the-secret-0123456789abcdef', body, { delivery: `forged-${randomUUID()}`, timestamp: Date.now() / 1000 }) }, body });
      assert.equal(forged.status, 401);
      assert.equal(cutCalls(), before, 'the forged trigger reached Temporal');
      const signed = await fetch(`${cutBase}/trigger/${repo}/kick`, { method: 'POST', headers: { 'content-type': 'application/json', ...signTrigger(TRIGGER_SECRET, body, { delivery: `signed-${randomUUID()}`, timestamp: Date.now() / 1000 }) }, body });
      assert.equal(signed.status, 503, await signed.clone().text());
      assert.equal(signed.headers.get('retry-after'), '5');
    });

    it('answers 503 with Retry-After, within its deadline, while the first registry load hangs', async () => {
      let release: (loaded: LoadedCatalog) => void = () => undefined;
      const hanging = createCatalogCache({ load: () => new Promise<LoadedCatalog>((resolve) => (release = resolve)), refreshMs: 3_600_000 });
      const server = Fastify({ logger: false });
      try {
        await server.register(async (scope) => registerWebhookRoutes(scope, { config, client: unreachableClient(await closedPort()).client, registry: new ActionRegistry(), catalogCache: hanging }));
        const delivery = githubPush(git.head());
        const answer = await server.inject({ method: 'POST', url: `/hooks/github/${repo}`, headers: delivery.headers, payload: delivery.body });
        assert.equal(answer.statusCode, 503);
        assert.equal(answer.headers['retry-after'], '5');
      } finally {
        release({ catalog: new CompositeCatalog(LocalCatalog.load([], new ActionRegistry()), []), repos: [] });
        await server.close();
        await hanging.close();
      }
    });

    it('stops accepting the old secret the moment its variable changes', async () => {
      process.env[SECRET_ENV] = 'a-rotated-secret-for-the-front-door';
      try {
        assert.equal((await post(`${cutBase}/hooks/github/${repo}`, githubPush(git.head()))).status, 401);
        assert.equal((await post(`${cutBase}/hooks/github/${repo}`, githubPush(git.head(), { secret: 'a-rotated-secret-for-the-front-door' }))).status, 503);
      } finally {
        process.env[SECRET_ENV] = SECRET;
      }
    });

    it('stops accepting pushes for a removed repository within seconds, from its registry alone', async () => {
      const gone = `fg${randomUUID().slice(0, 8)}`;
      await addRepo(engine.client, { name: gone, url: git.bare, webhookSecretEnv: SECRET_ENV }, engine.taskQueue);
      await until(async () => (await post(`${cutBase}/hooks/github/${gone}`, githubPush(git.head()))).status === 503, 30_000, 'the registry to learn of the new repository');
      await removeRepo(engine.client, gone);
      const before = cutCalls();
      await until(async () => (await post(`${cutBase}/hooks/github/${gone}`, githubPush(git.head(), { secret: 'not-the-secret-of-any-repository' }))).status === 401, 1000, 'forged pushes to stay refused');
      assert.equal(cutCalls(), before);
      await until(async () => (await post(`${cutBase}/hooks/github/${gone}`, githubPush(git.head()))).status === 401, 15_000, 'the registry to forget the removed repository');
    });
  });

  describe('rate limits', () => {
    const limitedServer = async (perSource: number, global: number, sourcesKept?: number): Promise<FastifyInstance> => {
      const server = Fastify({ logger: false });
      opened.push(server);
      const limitedConfig = { ...config, api: { ...config.api, hooksRate: { perSource, global } } };
      await server.register(async (scope) => registerWebhookRoutes(scope, { config: limitedConfig, client: unreachableClient(await closedPort()).client, registry: new ActionRegistry(), catalogCache: cutRegistry, ...(sourcesKept ? { rateLimitSourcesKept: sourcesKept } : {}) }));
      return server;
    };
    const limited = async (perSource: number, global: number): Promise<string> => {
      const server = await limitedServer(perSource, global);
      await server.listen({ host: '127.0.0.1', port: 0 });
      return `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
    };

    it('answers 429 with Retry-After once a source address spends its share, forged requests included', async () => {
      const url = await limited(3, 1000);
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let index = 0; index < 6; index += 1) {
        const response = await post(`${url}/hooks/github/${repo}`, githubPush(git.head(), { secret: 'not-the-secret-of-any-repository' }));
        statuses.push(response.status);
        if (response.status === 429) retryAfter = response.headers.get('retry-after');
      }
      assert.deepEqual(statuses.slice(0, 3), [401, 401, 401]);
      assert.ok(statuses.slice(3).includes(429), statuses.join(','));
      assert.match(retryAfter ?? '', /^\d+$/);
    });

    it('answers 429 once all sources together spend the global share, triggers included', async () => {
      const url = await limited(1000, 2);
      const statuses: number[] = [];
      for (let index = 0; index < 5; index += 1) statuses.push((await fetch(`${url}/trigger/${repo}/hello`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status);
      assert.deepEqual(statuses.slice(0, 2), [401, 401]);
      assert.ok(statuses.slice(2).includes(429), statuses.join(','));
    });

    it('tracks at most the configured number of source addresses, forgetting the least recent', async () => {
      const server = await limitedServer(1, 1_000_000, 5);
      const forged = githubPush(git.head(), { secret: 'not-the-secret-of-any-repository' });
      const from = (remoteAddress: string) => server.inject({ method: 'POST', url: `/hooks/github/${repo}`, headers: forged.headers, payload: forged.body, remoteAddress });
      assert.equal((await from('198.51.100.1')).statusCode, 401);
      assert.equal((await from('198.51.100.1')).statusCode, 429, 'one request per second from one address');
      for (let index = 2; index <= 20; index += 1) assert.equal((await from(`198.51.100.${index}`)).statusCode, 401);
      assert.equal((await from('198.51.100.1')).statusCode, 401, 'the first address was forgotten: the limiter kept only the last five');
    });
  });

  describe('with Temporal up', () => {
    it('absorbs a burst of 50 signed pushes with 202 each and ends at the newest commit after few syncs, auditing every delivery', async () => {
      const since = new Date();
      const syncsBefore = await syncsScheduled(engine, repo);
      const signalsBefore = await syncSignalsReceived(engine, repo);
      git.write('dags/burst.yaml', dagYaml('burst'));
      git.commitAndPush('burst 1');
      git.write('dags/burst.yaml', dagYaml('burst2'));
      const newest = git.commitAndPush('burst 2');
      const deliveries = Array.from({ length: 50 }, () => githubPush(newest));
      const answers = await Promise.all(deliveries.map((delivery) => post(`${base}/hooks/github/${repo}`, delivery)));
      assert.deepEqual(answers.map((answer) => answer.status), Array.from({ length: 50 }, () => 202));
      // Pushes that arrive while a signal is in flight share the next one (how many depends on timing; test/push-coalescing.test.ts pins the rule).
      const signals = (await syncSignalsReceived(engine, repo)) - signalsBefore;
      assert.ok(signals >= 1 && signals <= 50, `${signals} sync signals for 50 pushes`);
      // Each delivery is still audited on its own, by id, though the entries travel in batches.
      await until(async () => {
        const audited = (await listAudit(engine.client, { since, user: 'webhook:github', action: 'repo.sync', limit: 1000 })).filter((entry) => entry.target === repo);
        return deliveries.every((delivery) => audited.some((entry) => entry.detail?.endsWith(`delivery github:${delivery.headers["x-github-delivery"]}`)));
      }, 30_000, 'an audit entry for each of the 50 deliveries');
      await until(async () => {
        const view = await getRepo(engine.client, repo);
        return view.active?.commit === newest && !view.pending && !view.syncing;
      }, 60_000, `commit ${newest} to go live`);
      // Every push names the newest commit: once it is live the others ask for nothing (a repository poll may add one).
      const syncs = (await syncsScheduled(engine, repo)) - syncsBefore;
      assert.ok(syncs >= 1 && syncs <= 2, `${syncs} syncs for 50 pushes of one commit`);
    });

    it('starts no sync for a push that names the commit already live, and one for a push of a new commit', async () => {
      await until(async () => {
        const view = await getRepo(engine.client, repo);
        return view.active?.commit === git.head() && !view.pending && !view.syncing;
      }, 60_000, 'the repository to settle');
      const handle = engine.client.workflow.getHandle(repoWorkflowId(repo));
      const eventsAfterSignal = async (signalsBefore: number): Promise<{ name: string; type: string }[]> => {
        let events: { name: string; type: string }[] = [];
        await until(async () => {
          const all = ((await handle.fetchHistory()).events ?? []).map((event) => ({ name: event.activityTaskScheduledEventAttributes?.activityType?.name ?? event.workflowExecutionSignaledEventAttributes?.signalName ?? '', type: String(event.eventType) }));
          const signals = all.flatMap((event, index) => (event.name === 'syncRequested' ? [index] : []));
          const last = signals[signalsBefore];
          if (last === undefined) return false;
          events = all.slice(last + 1);
          // The workflow task that took the signal has completed: whatever it decided is in the history.
          return events.some((event) => event.type === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED' || event.type === '6');
        }, 30_000, 'the push signal to be taken');
        return events;
      };

      const live = await syncSignalsReceived(engine, repo);
      assert.equal((await post(`${base}/hooks/github/${repo}`, githubPush(git.head()))).status, 202);
      const afterLive = await eventsAfterSignal(live);
      assert.equal(afterLive.filter((event) => event.name === 'syncRepository').length, 0, 'no sync for a commit already live');
      assert.equal((await getRepo(engine.client, repo)).pending, false);

      // A push whose commit is not a full commit id names none: its signal asks for a plain sync.
      const odd = await syncSignalsReceived(engine, repo);
      assert.equal((await post(`${base}/hooks/github/${repo}`, githubPush(`${git.head().slice(0, 39)}Z\n--upload-pack=touch /tmp/x`))).status, 202);
      await eventsAfterSignal(odd);
      const signalled = ((await handle.fetchHistory()).events ?? []).filter((event) => event.workflowExecutionSignaledEventAttributes?.signalName === 'syncRequested');
      const lastArgs = JSON.parse(Buffer.from(signalled.at(-1)?.workflowExecutionSignaledEventAttributes?.input?.payloads?.[0]?.data ?? []).toString('utf8')) as Record<string, unknown>;
      assert.equal(lastArgs.commit, undefined, JSON.stringify(lastArgs));
      await until(async () => {
        const view = await getRepo(engine.client, repo);
        return !view.pending && !view.syncing;
      }, 60_000, 'the plain sync to end');

      git.write('dags/named.yaml', dagYaml('named'));
      const next = git.commitAndPush('a commit named by its push');
      const fresh = await syncSignalsReceived(engine, repo);
      assert.equal((await post(`${base}/hooks/github/${repo}`, githubPush(next))).status, 202);
      await eventsAfterSignal(fresh);
      await until(async () => (await getRepo(engine.client, repo)).active?.commit === next, 60_000, 'the named commit to go live');
    });

    it('answers a replayed delivery id 200 duplicate without a second sync request', async () => {
      const delivery = githubPush(git.head());
      assert.equal((await post(`${base}/hooks/github/${repo}`, delivery)).status, 202);
      const replay = await post(`${base}/hooks/github/${repo}`, delivery);
      assert.equal(replay.status, 200);
      assert.equal(((await replay.json()) as { duplicate: boolean }).duplicate, true);
    });
  });
});
