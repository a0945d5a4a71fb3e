// test-tier: full (not in npm run test:quick: a lab, a production server, real guests, apt or the model)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Connection } from '@temporalio/client';
import { buildApiServer } from '../api/server';
import { connectClient, type TemporalClient } from '../config/temporal-connection';
import { addRepo, getRepo, removeRepo } from '../client/repos';
import { loadConfig, PROJECT_ROOT } from '../config/config';
import { runLogDir } from '../config/log-layout';
import { createLogger } from '../config/logger';
import { hmacSignature } from '../dag-repos/git/webhook-verify';
import { actionRegistryWith, loadConfiguredPlugins } from '../plugins/plugin-actions';
import type { DagRunStatus } from '../workflows/run-status';
import { apiRequest } from './support/api-request';
import { qubinodeFromSource } from './support/cli';
import { dagYaml, GitFixture } from './support/git-fixture';
import { readEnvFile, runProductionScript, startProductionTemporal, startQubinodeProcess, type ProductionTemporal, type QubinodeProcess } from './support/production-temporal';
import { taskOf, until } from './support/waiting';

// Slow tier: the first run on a machine builds the pinned Temporal server from source (minutes); later runs
// copy it from the machine cache. Everything below talks to the cluster only through temporal.env (mTLS).

const TOKEN = 'production-test-token-0123456789';
const HOOK_SECRET = 'production-hook-secret-0123456789';
const HOOK_SECRET_ENV = 'QUBINODE_TEST_PROD_HOOK_SECRET';
const RUN_WITHIN_MS = 120_000;

describe('production Temporal (PostgreSQL, mutual TLS) with the API and two worker processes', () => {
  let cluster: ProductionTemporal;
  let temporal: TemporalClient;
  let api: ReturnType<typeof buildApiServer>;
  let base = '';
  let work = '';
  const workers: QubinodeProcess[] = [];
  const queue = `prod-main-${randomUUID().slice(0, 8)}`;
  const hostQueue = `prod-host-b-${randomUUID().slice(0, 8)}`;
  const logs = { main: '', hostB: '' };
  const repo = `prod${randomUUID().slice(0, 8)}`;
  let git: GitFixture | undefined;

  const call = (method: string, url: string, body?: unknown, token: string | null = TOKEN): Promise<Response> => apiRequest(base, method, url, token, body);
  const startRun = async (dag: string, params: Record<string, unknown> = {}): Promise<string> => {
    const response = await call('POST', '/api/runs', { dag, params });
    assert.equal(response.status, 201, await response.clone().text());
    return ((await response.json()) as { runId: string }).runId;
  };
  const runStatus = async (runId: string): Promise<DagRunStatus> => {
    const response = await call('GET', `/api/runs/${encodeURIComponent(runId)}`);
    assert.equal(response.status, 200, await response.clone().text());
    return (await response.json()) as DagRunStatus;
  };
  const finished = async (runId: string): Promise<DagRunStatus> => {
    let last: DagRunStatus | undefined;
    await until(
      async () => {
        last = await runStatus(runId);
        return last.state !== 'running';
      },
      RUN_WITHIN_MS,
      `run ${runId} to finish`,
    );
    return last as DagRunStatus;
  };

  before(
    async () => {
      cluster = await startProductionTemporal();
      work = mkdtempSync(path.join(tmpdir(), 'qubinode-prod-'));
      logs.main = path.join(work, 'logs-main');
      logs.hostB = path.join(work, 'logs-host-b');
      const dags = path.join(work, 'dags');
      mkdirSync(dags);
      writeFileSync(
        path.join(dags, 'two-hosts.yaml'),
        `id: two-hosts
tasks:
  - id: on-main
    uses: shell
    runsOn: ${queue}
    with:
      script: echo "ran_on=$QUBINODE_TEST_WORKER_NAME" >> "$QUBINODE_OUTPUTS"
  - id: on-host-b
    uses: shell
    needs: on-main
    runsOn: ${hostQueue}
    with:
      script: echo "ran_on=$QUBINODE_TEST_WORKER_NAME" >> "$QUBINODE_OUTPUTS"
`,
      );
      writeFileSync(
        path.join(dags, 'gated.yaml'),
        `id: gated
tasks:
  - id: gate
    uses: approval
    with:
      message: Go on in production?
      approvers: [bootstrap-admin]
  - id: after
    uses: shell
    needs: gate
    with:
      command: [echo, approved]
`,
      );
      // Paths reach the scripts as environment values, never as script text.
      writeFileSync(
        path.join(dags, 'flaky.yaml'),
        `id: flaky
tasks:
  - id: fetch
    uses: shell
    with:
      env: { COUNTER: ${JSON.stringify(path.join(work, 'runs.log'))} }
      script: echo fetch >> "$COUNTER"; echo "version=7" >> "$QUBINODE_OUTPUTS"
  - id: deploy
    uses: shell
    needs: fetch
    with:
      env: { COUNTER: ${JSON.stringify(path.join(work, 'runs.log'))}, MARKER: ${JSON.stringify(path.join(work, 'fixed'))}, VERSION: "\${{ tasks.fetch.outputs.version }}" }
      script: test -e "$MARKER" && echo deploy >> "$COUNTER" && echo "deployed=$VERSION" >> "$QUBINODE_OUTPUTS"
`,
      );
      const env: NodeJS.ProcessEnv = {
        ...cluster.env,
        QUBINODE_TASK_QUEUE: queue,
        QUBINODE_DAG_DIRS: `examples=${path.join(PROJECT_ROOT, 'dag-repos', 'examples')},prod=${dags}`,
        QUBINODE_DATA_DIR: path.join(work, 'data'),
        QUBINODE_AI_ANALYSIS: 'rules',
        QUBINODE_LOG_LEVEL: 'warn',
      };
      // Two OS processes, as on two hosts: the main worker (workflows and its queue's activities) and a host's worker.
      workers.push(startQubinodeProcess(['worker'], { ...env, QUBINODE_LOG_DIR: logs.main, QUBINODE_TEST_WORKER_NAME: 'main' }));
      workers.push(startQubinodeProcess(['worker', '--queue', hostQueue, '--activities-only'], { ...env, QUBINODE_LOG_DIR: logs.hostB, QUBINODE_TEST_WORKER_NAME: 'host-b' }));
      await Promise.all(workers.map((worker) => worker.waitFor(/worker polling/, 180_000)));

      process.env[HOOK_SECRET_ENV] = HOOK_SECRET;
      const config = loadConfig({ ...process.env, ...env });
      assert.ok(config.temporal.tls?.certPath, 'the API connects with the client certificate from temporal.env');
      temporal = await connectClient(config.temporal);
      api = buildApiServer({ config, logger: createLogger('error', 'production-test'), client: temporal.client, registry: actionRegistryWith(loadConfiguredPlugins(config)), token: TOKEN });
      await api.listen({ host: '127.0.0.1', port: 0 });
      base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
    },
    { timeout: 60 * 60_000 },
  );

  after(
    async () => {
      if (temporal && git) await removeRepo(temporal.client, repo).catch(() => undefined);
      await api?.close();
      await temporal?.close();
      await Promise.all(workers.map((worker) => worker.stop()));
      git?.cleanup();
      if (work) rmSync(work, { recursive: true, force: true });
      // A fresh cluster each time, as on a fresh clone in CI (the server build stays cached).
      await cluster?.down({ purge: process.env.QUBINODE_KEEP_PRODUCTION !== '1' });
    },
    { timeout: 180_000 },
  );

  it('brings the cluster up with infra/production/up.sh and hands clients TLS settings only', (t) => {
    t.diagnostic(`up.sh took ${(cluster.upMs / 1000).toFixed(1)} s`);
    assert.match(cluster.env.TEMPORAL_ADDRESS ?? '', /^127\.0\.0\.1:\d+$/);
    for (const name of ['TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_KEY', 'TEMPORAL_TLS_CA'] as const) assert.ok(existsSync(cluster.env[name] ?? ''), `${name} names a file`);
    assert.equal(cluster.env.TEMPORAL_TLS_SERVER_NAME, 'localhost');
    assert.notEqual(cluster.env.TEMPORAL_ADDRESS, '127.0.0.1:7233', 'not the dev server');
  });

  it('refuses a client without the client certificate, and one without TLS', async () => {
    const address = cluster.env.TEMPORAL_ADDRESS as string;
    const ca = readFileSync(cluster.env.TEMPORAL_TLS_CA as string);
    const attempt = async (options: Parameters<typeof Connection.connect>[0]): Promise<void> => {
      const connection = await Connection.connect({ ...options, connectTimeout: '5s' });
      try {
        await connection.workflowService.getSystemInfo({});
      } finally {
        await connection.close();
      }
    };
    await assert.rejects(attempt({ address, tls: { serverRootCACertificate: ca, serverNameOverride: 'localhost' } }), 'no client certificate');
    await assert.rejects(attempt({ address }), 'plain text');
    // A certificate from another authority (a second make-certs run elsewhere) is refused as well.
    const foreign = mkdtempSync(path.join(tmpdir(), 'qubinode-foreign-ca-'));
    try {
      assert.equal((await runProductionScript('make-certs.sh', [], { QUBINODE_PROD_DIR: foreign })).code, 0);
      const crt = readFileSync(path.join(foreign, 'tls', 'client.pem'));
      const key = readFileSync(path.join(foreign, 'tls', 'client.key'));
      await assert.rejects(attempt({ address, tls: { serverRootCACertificate: ca, serverNameOverride: 'localhost', clientCertPair: { crt, key } } }), 'foreign client certificate');
    } finally {
      rmSync(foreign, { recursive: true, force: true });
    }
    // The same server certificate is accepted with the client certificate: the refusals above are about the client.
    await attempt({ address, tls: { serverRootCACertificate: ca, serverNameOverride: 'localhost', clientCertPair: { crt: readFileSync(cluster.env.TEMPORAL_TLS_CERT as string), key: readFileSync(cluster.env.TEMPORAL_TLS_KEY as string) } } });
  });

  it('runs examples/hello to success through the API', async () => {
    const runId = await startRun('examples/hello', { api_url: `${base}/healthz` });
    const status = await finished(runId);
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks.map((task) => [task.id, task.state])));
    assert.equal(taskOf(status, 'count').outputs?.greetings, 3);
  });

  it('runs each task of a runsOn DAG on the worker process that polls its queue', async () => {
    const runId = await startRun('prod/two-hosts');
    const status = await finished(runId);
    assert.equal(status.state, 'succeeded');
    assert.equal(taskOf(status, 'on-main').outputs?.ran_on, 'main');
    assert.equal(taskOf(status, 'on-host-b').outputs?.ran_on, 'host-b');
    // Each process wrote its task's log into its own log directory, and only that one.
    assert.ok(existsSync(path.join(runLogDir(logs.main, runId), 'on-main.log')));
    assert.ok(existsSync(path.join(runLogDir(logs.hostB, runId), 'on-host-b.log')));
    assert.ok(!existsSync(path.join(runLogDir(logs.main, runId), 'on-host-b.log')));
    assert.ok(!existsSync(path.join(runLogDir(logs.hostB, runId), 'on-main.log')));

    // SQL visibility with the project's search attributes: the API finds the run by its DAG.
    await until(
      async () => {
        const listed = (await (await call('GET', `/api/runs?dag=${encodeURIComponent('prod/two-hosts')}`)).json()) as { runId: string }[];
        return listed.some((run) => run.runId === runId);
      },
      30_000,
      'the run to be listed by its DAG',
    );
    const other = (await (await call('GET', `/api/runs?dag=${encodeURIComponent('prod/gated')}`)).json()) as { runId: string }[];
    assert.ok(!other.some((run) => run.runId === runId), 'a filter by another DAG leaves it out');

    // And the run lives in PostgreSQL: its visibility row is in the temporal_visibility database.
    const rows = execFileSync(`/usr/lib/postgresql/${readEnvFile(path.join(PROJECT_ROOT, 'infra', 'production', 'versions.env')).POSTGRES_MAJOR}/bin/psql`, ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-v', `run=${runId}`, '-h', '127.0.0.1', '-p', cluster.scriptEnv.QUBINODE_PG_PORT as string, '-U', 'temporal', '-d', 'temporal_visibility'], {
      input: "SELECT count(*) FROM executions_visibility WHERE workflow_id = :'run';",
      env: { ...process.env, PGPASSWORD: readFileSync(path.join(cluster.prodDir, 'postgres', 'temporal-password'), 'utf8').trim() },
      encoding: 'utf8',
    });
    assert.equal(rows.trim(), '1');
  });

  it('lists the runs of a DAG from the qubinode CLI with nothing but the settings of temporal.env', async () => {
    const runId = await startRun('prod/two-hosts');
    assert.equal((await finished(runId)).state, 'succeeded');
    let listed: { runId: string }[] = [];
    await until(
      async () => {
        const cli = await qubinodeFromSource(['runs', '--dag', 'prod/two-hosts', '--json'], { ...cluster.env, QUBINODE_LOG_LEVEL: 'error' });
        assert.equal(cli.code, 0, cli.stderr);
        listed = JSON.parse(cli.stdout) as { runId: string }[];
        return listed.some((run) => run.runId === runId);
      },
      60_000,
      'the CLI to list the run',
    );
    // Without the client certificate the same command is refused by the server.
    const refused = await qubinodeFromSource(['runs', '--dag', 'prod/two-hosts', '--json'], { ...cluster.env, TEMPORAL_TLS_CERT: '', TEMPORAL_TLS_KEY: '', QUBINODE_LOG_LEVEL: 'error' });
    assert.notEqual(refused.code, 0);
    assert.ok(!refused.stdout.includes(runId));
    assert.doesNotMatch(refused.stderr, /invalid environment/, 'refused by the server, not by the settings check');
  });

  it('waits at an approval gate, lists it as waiting, and goes on when approved through the API', async () => {
    const runId = await startRun('prod/gated');
    await until(async () => (await runStatus(runId)).approvals?.[0]?.state === 'waiting', 60_000, 'the gate to wait');
    await until(
      async () => ((await (await call('GET', '/api/approvals')).json()) as { runId: string }[]).some((run) => run.runId === runId),
      30_000,
      'the run to be listed as waiting for approval',
    );
    const decided = await call('POST', '/api/approvals', { run: runId, task: 'gate', decision: 'approve', comment: 'go' });
    assert.equal(decided.status, 200, await decided.clone().text());
    const status = await finished(runId);
    assert.equal(status.state, 'succeeded');
    assert.equal(status.approvals?.[0]?.by, 'bootstrap-admin');
  });

  it('syncs a Git repository on a signed webhook, refuses an unsigned one, and runs the synced DAG', async () => {
    git = new GitFixture();
    git.write('dags/first.yaml', dagYaml('first'));
    git.commitAndPush('first');
    await addRepo(temporal.client, { name: repo, url: git.bare, webhookSecretEnv: HOOK_SECRET_ENV }, queue);
    await until(async () => (await getRepo(temporal.client, repo)).active !== undefined, 60_000, 'the first sync');
    const listsDag = async (id: string): Promise<boolean> => ((await (await call('GET', '/api/dags')).json()) as { id: string }[]).some((dag) => dag.id === id);
    // The API learns of a new repository when its catalog is next read, as after any `repo add`.
    await until(() => listsDag(`${repo}/first`), 30_000, 'the API to know the repository');

    git.write('dags/pushed.yaml', dagYaml('pushed'));
    const commit = git.commitAndPush('add pushed');
    const body = JSON.stringify({ ref: 'refs/heads/main', after: commit, repository: { full_name: 'acme/dags' } });
    const deliver = (headers: Record<string, string>): Promise<Response> =>
      fetch(`${base}/hooks/github/${repo}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomUUID(), ...headers }, body });
    assert.equal((await deliver({})).status, 401, 'unsigned');
    assert.equal((await deliver({ 'x-hub-signature-256': hmacSignature('not-the-secret-at-all', body) })).status, 401, 'signed with another secret');
    assert.notEqual((await getRepo(temporal.client, repo)).active?.commit, commit);
    const accepted = await deliver({ 'x-hub-signature-256': hmacSignature(HOOK_SECRET, body) });
    assert.equal(accepted.status, 202, await accepted.clone().text());
    await until(async () => (await getRepo(temporal.client, repo)).active?.commit === commit, 60_000, `commit ${commit} to go live`);

    await until(() => listsDag(`${repo}/pushed`), 30_000, 'the pushed DAG in the catalog');
    const status = await finished(await startRun(`${repo}/pushed`));
    assert.equal(status.state, 'succeeded');
  });

  it('retries a failed run from the failure, reusing the task that had succeeded', async () => {
    const first = await finished(await startRun('prod/flaky'));
    assert.equal(first.state, 'failed');
    assert.equal(taskOf(first, 'deploy').state, 'failed');
    writeFileSync(path.join(work, 'fixed'), '');

    const response = await call('POST', '/api/retries', { run: first.runId });
    assert.equal(response.status, 201, await response.clone().text());
    const retry = (await response.json()) as { runId: string; reused: string[]; retryOf: string };
    assert.deepEqual(retry.reused, ['fetch']);
    const second = await finished(retry.runId);
    assert.equal(second.state, 'succeeded');
    assert.equal(taskOf(second, 'deploy').outputs?.deployed, 7);
    assert.equal(second.retryOf, first.runId);
    assert.deepEqual(readFileSync(path.join(work, 'runs.log'), 'utf8').trim().split('\n'), ['fetch', 'deploy'], 'fetch ran once');
  });
});

describe('infra/production scripts', () => {
  let scratch = '';
  before(() => {
    scratch = mkdtempSync(path.join(tmpdir(), 'qubinode-prod-scripts-'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('makes a CA, a server and a client certificate with owner-only keys, and keeps them on a second run', async () => {
    const env = { QUBINODE_PROD_DIR: path.join(scratch, 'certs') };
    assert.equal((await runProductionScript('make-certs.sh', [], env)).code, 0);
    const tls = path.join(scratch, 'certs', 'tls');
    for (const key of ['ca.key', 'server.key', 'client.key']) assert.equal(statSync(path.join(tls, key)).mode & 0o777, 0o600, key);
    const before = readFileSync(path.join(tls, 'server.pem'), 'utf8');
    assert.equal((await runProductionScript('make-certs.sh', [], env)).code, 0);
    assert.equal(readFileSync(path.join(tls, 'server.pem'), 'utf8'), before, 'an existing certificate is kept');
  });

  // start-temporal.sh watches the server it just forked: until the fork has exec'd temporal-server, its command
  // line is still the script's, so the start-up watch must ask whether the child lives, not what it runs.
  it('counts a just-forked child that has not exec\'d its program yet as alive but not yet running it', () => {
    const probe = [
      'source infra/production/common.sh',
      '(sleep 0.4; exec sleep 5) & child=$!',
      'process_alive "$child" && echo forked-alive',
      'process_runs "$child" sleep || echo forked-not-yet-running',
      'sleep 1',
      'process_runs "$child" sleep && echo execd-running',
      'kill "$child"; wait "$child" 2>/dev/null || true',
      'process_alive "$child" || echo ended-gone',
    ].join('\n');
    // Read from stdin, so the shell's own command line (which the fork shares) does not name the program.
    const output = execFileSync('bash', ['-s'], { cwd: PROJECT_ROOT, input: probe, encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(output, ['forked-alive', 'forked-not-yet-running', 'execd-running', 'ended-gone']);
    const script = readFileSync(path.join(PROJECT_ROOT, 'infra', 'production', 'start-temporal.sh'), 'utf8');
    const watch = /for _ in \$\(seq 1 240\); do\n(.*)\n/.exec(script)?.[1] ?? '';
    assert.match(watch, /process_alive "\$server_pid"/, 'the start-up watch asks whether the forked child lives');
  });

  // Settings end up in PostgreSQL's configuration, an openssl extensions file and temporal.env: only plain values pass.
  const refusals: { script: string; what: string; env: Record<string, string>; args?: string[]; says: RegExp }[] = [
    { script: 'setup-postgres.sh', what: 'a QUBINODE_PROD_DIR that would break out of postgresql.conf', env: { QUBINODE_PROD_DIR: "/tmp/x'\nshared_preload_libraries='evil" }, says: /QUBINODE_PROD_DIR must be/ },
    { script: 'setup-postgres.sh', what: 'a QUBINODE_PROD_DIR that climbs with ..', env: { QUBINODE_PROD_DIR: '/tmp/a/../../etc' }, says: /QUBINODE_PROD_DIR must not contain/ },
    { script: 'setup-postgres.sh', what: 'a QUBINODE_PG_PORT carrying another setting', env: { QUBINODE_PG_PORT: '5433\nlisten_addresses = *' }, says: /QUBINODE_PG_PORT must be a port/ },
    { script: 'start-temporal.sh', what: 'a privileged QUBINODE_PROD_TEMPORAL_PORT', env: { QUBINODE_PROD_TEMPORAL_PORT: '80' }, says: /QUBINODE_PROD_TEMPORAL_PORT must be a port/ },
    { script: 'start-temporal.sh', what: 'a TEMPORAL_NAMESPACE that would add a line to temporal.env', env: { TEMPORAL_NAMESPACE: 'default\nTEMPORAL_ADDRESS=evil.example:7233' }, says: /TEMPORAL_NAMESPACE must be/ },
    { script: 'make-certs.sh', what: 'QUBINODE_PROD_TLS_SANS that would add a certificate extension', env: { QUBINODE_PROD_TLS_SANS: 'DNS:ok\nbasicConstraints=critical,CA:TRUE' }, says: /QUBINODE_PROD_TLS_SANS must be/ },
    { script: 'start-temporal.sh', what: 'a QUBINODE_PROD_BIND_IP that is not an address', env: { QUBINODE_PROD_BIND_IP: '0.0.0.0\nbindOnIP: evil' }, says: /QUBINODE_PROD_BIND_IP must be/ },
    { script: 'start-temporal.sh', what: 'a QUBINODE_PROD_PUBLIC_HOST that would add a line to temporal.env', env: { QUBINODE_PROD_PUBLIC_HOST: 'cp\nTEMPORAL_TLS_CA=/tmp/evil' }, says: /QUBINODE_PROD_PUBLIC_HOST must be/ },
    { script: 'down.sh', what: 'an unknown argument', env: {}, args: ['--everything'], says: /usage: down.sh/ },
  ];
  for (const { script, what, env, args = [], says } of refusals) {
    it(`${script} refuses ${what} before touching anything`, async () => {
      const prodDir = path.join(scratch, `refused-${randomUUID().slice(0, 8)}`);
      const result = await runProductionScript(script, args, { QUBINODE_PROD_DIR: prodDir, ...env });
      assert.notEqual(result.code, 0);
      assert.match(result.output, says);
      assert.ok(!existsSync(prodDir), 'nothing was created');
    });
  }
});
