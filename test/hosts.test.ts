import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { release } from 'node:os';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildApiServer } from '../api/server';
import { addUser, issueToken } from '../client/identity';
import { addRepo, getRepo, removeRepo } from '../client/repos';
import { signTrigger } from '../dag-repos/git/webhook-verify';
import { GitFixture } from './support/git-fixture';
import { hostLastSeen, listHosts, readHostRegistry, UnknownHostError } from '../client/hosts';
import { PROJECT_ROOT } from '../config/config';
import { createLogger } from '../config/logger';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { createPlatformActivities } from '../workers/platform-activities';
import type { HostRegistryView } from '../workflows/host-registry-state';
import { apiRequest } from './support/api-request';
import { qubinodeFromSource } from './support/cli';
import { startTestEngine, type TestEngine } from './support/engine';
import { until } from './support/waiting';
import { workerTemporalAccess } from '../client/worker-access';

const BOOTSTRAP = 'hosts-test-bootstrap-token-0123456789';
const TRIGGER_SECRET = 'hosts-trigger-secret-for-tests-0123456789';
const VERSION = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Sends the path exactly as written (fetch would normalise it first). */
function rawGet(base: string, rawPath: string, token: string | null): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: hostname, port, method: 'GET', path: rawPath, headers: token ? { authorization: `Bearer ${token}` } : {} }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
    request.end();
  });
}

describe('known hosts against the Temporal dev server', () => {
  let engine: TestEngine;
  const hostQueue = `hv-${randomUUID().slice(0, 8)}`;

  before(async () => {
    engine = await startTestEngine({ env: { QUBINODE_HOST_LABELS: 'role=hypervisor,site=test-lab' } });
    await engine.addWorker(hostQueue, false);
  });
  after(async () => engine?.close());

  it('lists a worker that started polling, with its version, OS facts, labels and pollers, as online', async () => {
    let host: Awaited<ReturnType<typeof listHosts>>[number] | undefined;
    await until(
      async () => {
        host = (await listHosts(engine.client)).find((candidate) => candidate.queue === hostQueue);
        return host?.pollers.some((poller) => poller.kind === 'activity') === true;
      },
      30_000,
      `${hostQueue} with an activity poller`,
    );
    assert.equal(host?.state, 'online');
    assert.equal(host?.worker?.version, VERSION);
    assert.equal(host?.worker?.kernel, release());
    assert.deepEqual(host?.worker?.labels, { role: 'hypervisor', site: 'test-lab' });
    assert.equal(host?.worker?.runsWorkflows, false);
    assert.match(host?.worker?.bootId ?? '', /^[0-9a-f-]{36}$/);
    assert.ok(host?.pollers.every((poller) => poller.kind === 'activity'), 'an activity-only worker has no workflow pollers');
    assert.ok(host?.lastSeen);
  });

  it('lists the control plane queue with workflow pollers too', async () => {
    const host = (await listHosts(engine.client)).find((candidate) => candidate.queue === engine.taskQueue);
    assert.equal(host?.worker?.runsWorkflows, true);
    assert.ok(host?.pollers.some((poller) => poller.kind === 'workflow'));
  });

  it('refuses a run whose literal runsOn names no known host, with the task and the host', async () => {
    const unknown = `hv-nowhere-${randomUUID().slice(0, 6)}`;
    const dag = engine.compile(`id: lost\ntasks:\n  - id: deploy\n    uses: noop\n    runsOn: ${unknown}\n`);
    await assert.rejects(engine.start(dag), (error: unknown) => {
      assert.ok(error instanceof UnknownHostError);
      assert.ok(error.message.startsWith(`task deploy: runsOn ${unknown} names no known host (known: `), error.message);
      // The shared dev server knows many test queues: the message lists twenty, the error carries them all.
      assert.ok(error.known.includes(hostQueue) && error.known.includes(engine.taskQueue));
      assert.equal(error.taskId, 'deploy');
      assert.equal(error.queue, unknown);
      return true;
    });
  });

  it('starts a run whose literal runsOn names an announced host, and it runs there', async () => {
    const dag = engine.compile(`id: known\ntasks:\n  - id: there\n    uses: noop\n    runsOn: ${hostQueue}\n`);
    const status = await engine.wait(await engine.start(dag));
    assert.equal(status.state, 'succeeded');
    assert.equal(status.tasks[0]?.runsOn, hostQueue);
  });

  it('leaves a templated runsOn to be checked when the task runs', async () => {
    const dag = engine.compile(`id: templated\nparams:\n  host: { type: string }\ntasks:\n  - id: there\n    uses: noop\n    runsOn: \${{ params.host }}\n`);
    const runId = await engine.start(dag, { host: `hv-later-${randomUUID().slice(0, 6)}` });
    await engine.client.workflow.getHandle(runId).terminate('test done');
  });

  it('answers hostStatus for the interpreter: known and online, or unknown for a name no worker could have', async () => {
    const platform = createPlatformActivities(engine.config, workerTemporalAccess);
    try {
      const known = await platform.activities.hostStatus({ queue: hostQueue });
      assert.equal(known.known, true);
      assert.equal(known.online, true);
      assert.ok(known.lastSeen);
      assert.deepEqual(await platform.activities.hostStatus({ queue: '../hv1' }), { known: false, online: false });
      assert.deepEqual(await platform.activities.hostStatus({ queue: `never-${randomUUID().slice(0, 6)}` }), { known: false, online: false });
    } finally {
      await platform.close();
    }
  });

  it('shows a worker that stopped as offline since it said so', async () => {
    const queue = `hv-${randomUUID().slice(0, 8)}`;
    const worker = await engine.addWorker(queue, false);
    await until(async () => (await hostLastSeen(engine.client, queue)).online, 30_000, `${queue} online`);
    worker.shutdown();
    let status: Awaited<ReturnType<typeof hostLastSeen>> | undefined;
    await until(
      async () => {
        status = await hostLastSeen(engine.client, queue);
        return !status.online;
      },
      30_000,
      `${queue} offline`,
    );
    assert.equal(status?.known, true);
    const host = (await listHosts(engine.client)).find((candidate) => candidate.queue === queue);
    assert.equal(host?.state, 'offline');
    assert.equal(host?.offlineSince, host?.lastSeen);
    assert.ok(host?.instances[0]?.stoppedAt);
  });

  it('keeps garbage out of a registry and carries what it holds across continue-as-new', async () => {
    const workflowId = `hosts/test-${randomUUID()}`;
    const handle = await engine.client.workflow.start('hostRegistry', { workflowId, taskQueue: engine.taskQueue, args: [{ eventsPerRun: 12 }] });
    const good = (queue: string) => ({ queue, identity: `1@${queue}`, instanceId: 'abc', version: '0.1.0', runsWorkflows: false, startedAt: new Date().toISOString(), bootId: 'b', hostname: queue, os: {}, kernel: 'k', arch: 'x86_64', cpuCount: 1, memoryMiB: 1, addresses: [], labels: {} });
    await handle.signal('announce', { ...good('hv-a'), padding: 'x'.repeat(200_000) });
    await handle.signal('announce', good('../etc'));
    await handle.signal('announce', good('hv a'));
    let nested: unknown = 'x';
    for (let depth = 0; depth < 60; depth += 1) nested = { nested };
    await handle.signal('announce', { ...good('hv-b'), os: nested });
    for (let index = 0; index < 8; index += 1) await handle.signal('announce', good(`hv-${index}`));
    let view: HostRegistryView | undefined;
    await until(
      async () => {
        view = await handle.query<HostRegistryView>('hosts').catch(() => undefined);
        return Object.keys(view?.queues ?? {}).length === 8;
      },
      30_000,
      'eight hosts in the test registry',
    );
    assert.equal(view?.rejected, 4);
    assert.deepEqual(Object.keys(view?.queues ?? {}).sort(), Array.from({ length: 8 }, (_, index) => `hv-${index}`));
    const description = await handle.describe();
    assert.notEqual(description.runId, handle.firstExecutionRunId, 'the registry continued as new');
    await handle.terminate('test done');
  });

  it('reads the real registry through its query', async () => {
    const view = await readHostRegistry(engine.client);
    assert.ok(view.queues[hostQueue]);
  });

  describe('GET /api/hosts and qubinode hosts', () => {
    let app: ReturnType<typeof buildApiServer>;
    let base: string;
    let viewer: string;

    before(async () => {
      const config = { ...engine.config, taskQueue: engine.taskQueue, identity: { workflowId: `identity/test-${randomUUID()}` } };
      app = buildApiServer({ config, logger: createLogger('error', 'hosts-test'), client: engine.client, registry: new ActionRegistry(), token: BOOTSTRAP });
      await app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.server.address() as { port: number };
      base = `http://127.0.0.1:${address.port}`;
      const store = { client: engine.client, workflowId: config.identity.workflowId, taskQueue: engine.taskQueue };
      await addUser(store, 'vera', ['viewer']);
      viewer = (await issueToken(store, { user: 'vera', lifetime: '1h' })).token;
    });
    after(async () => app?.close());

    it('lists the hosts to a viewer', async () => {
      const answer = await apiRequest(base, 'GET', '/api/hosts', viewer);
      assert.equal(answer.status, 200);
      const hosts = (await answer.json()) as { queue: string; state: string }[];
      assert.equal(hosts.find((host) => host.queue === hostQueue)?.state, 'online');
    });

    it('refuses a caller without a token or with a wrong one', async () => {
      assert.equal((await apiRequest(base, 'GET', '/api/hosts', null)).status, 401);
      assert.equal((await apiRequest(base, 'GET', '/api/hosts', 'not-a-token-0123456789')).status, 401);
    });

    it('serves no other spelling of the route (encoded slashes, case, dot segments), and guards an encoded one by the route it matches', async () => {
      for (const spelling of ['/api/hosts%2F..%2Faudit', '/api/Hosts', '/api/hosts/', '/api/hosts/..%2F..%2Faudit']) {
        assert.equal(await rawGet(base, spelling, viewer), 404, spelling);
      }
      assert.equal(await rawGet(base, '/api/%68osts', null), 401);
    });

    it('prints the hosts as JSON and as a table from the CLI, directly and through the API', async () => {
      const env = { TEMPORAL_ADDRESS: engine.config.temporal.address, QUBINODE_TASK_QUEUE: engine.taskQueue };
      const json = await qubinodeFromSource(['hosts', '--json'], env);
      assert.equal(json.code, 0, json.stderr);
      const hosts = JSON.parse(json.stdout) as { queue: string; worker?: { labels: Record<string, string> } }[];
      assert.deepEqual(hosts.find((host) => host.queue === hostQueue)?.worker?.labels, { role: 'hypervisor', site: 'test-lab' });
      const viaApi = await qubinodeFromSource(['hosts'], { ...env, QUBINODE_API_URL: base, QUBINODE_API_TOKEN: viewer });
      assert.equal(viaApi.code, 0, viaApi.stderr);
      const line = viaApi.stdout.split('\n').find((row) => row.startsWith(`${hostQueue} `));
      assert.match(line ?? '', new RegExp(`^${hostQueue}\\s+(\\S+\\s+)?online\\s+\\d+\\s+${VERSION.replace(/\./g, '\\.')}\\s.*role=hypervisor,site=test-lab`));
    });
  });

  describe('a signed trigger whose DAG names an unknown host', () => {
    let app: ReturnType<typeof buildApiServer>;
    let base: string;
    const repo = `h${randomUUID().slice(0, 8)}`;
    const nowhere = `hv-gone-${randomUUID().slice(0, 6)}`;

    before(async () => {
      process.env.QUBINODE_WEBHOOK_HOSTS_TEST = TRIGGER_SECRET;
      const git = new GitFixture();
      git.write('dags/deploy.yaml', `id: deploy\non:\n  webhook:\n    secretEnv: QUBINODE_WEBHOOK_HOSTS_TEST\ntasks:\n  - id: install\n    uses: noop\n    runsOn: ${nowhere}\n`);
      git.commitAndPush('a DAG for a host that never announced itself');
      await addRepo(engine.client, { name: repo, url: git.bare }, engine.taskQueue);
      await until(async () => (await getRepo(engine.client, repo)).active !== undefined, 60_000, 'the first sync');
      const config = { ...engine.config, taskQueue: engine.taskQueue, dagDirectories: [] };
      app = buildApiServer({ config, logger: createLogger('error', 'hosts-trigger-test'), client: engine.client, registry: new ActionRegistry(), token: BOOTSTRAP });
      await app.listen({ host: '127.0.0.1', port: 0 });
      base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    });
    after(async () => {
      await app?.close();
      await removeRepo(engine.client, repo).catch(() => undefined);
    });

    it('is refused with 422 naming the task and the host, and starts nothing', async () => {
      const body = JSON.stringify({ reason: 'test' });
      const delivery = `d-${randomUUID().slice(0, 8)}`;
      const answer = await fetch(`${base}/trigger/${repo}/deploy`, { method: 'POST', headers: { 'content-type': 'application/json', ...signTrigger(TRIGGER_SECRET, body, { delivery, timestamp: Date.now() / 1000 }) }, body });
      assert.equal(answer.status, 422, await answer.clone().text());
      assert.match(((await answer.json()) as { error: string }).error, new RegExp(`^task install: runsOn ${nowhere} names no known host`));
      await assert.rejects(engine.client.workflow.getHandle(`dag/${repo}/deploy/hook-${delivery}`).describe(), /not found/i);
    });
  });
});
