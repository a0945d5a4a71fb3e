import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildApiServer } from '../api/server';
import { addUser, issueToken, revokeToken } from '../client/identity';
import { addRepo, getRepo, removeRepo } from '../client/repos';
import { loadConfig, PROJECT_ROOT } from '../config/config';
import { createLogger } from '../config/logger';
import { actionRegistryWith, loadConfiguredPlugins } from '../plugins/plugin-actions';
import { apiRequest } from './support/api-request';
import { format } from 'node:util';
import { main } from '../cli/main';
import { qubinodeFromSource, type CliResult } from './support/cli';
import { startTestEngine, type TestEngine } from './support/engine';
import { GitFixture } from './support/git-fixture';
import { until } from './support/waiting';

/**
 * The CLI on an operator's machine: only QUBINODE_API_URL and a personal token, and a Temporal
 * address that answers nothing, so any command that dialed Temporal would fail. The API server is
 * the real one, in-process, on the real Temporal dev server.
 */

const BOOTSTRAP = `cli-api-bootstrap-${randomUUID()}`;
/** Nothing listens here: a CLI that tried Temporal would fail to connect. */
const NO_TEMPORAL = '127.0.0.1:1';

const GATED_DAG = `id: gated
description: Waits for the approver before it says so.
tasks:
  - id: gate
    uses: approval
    with:
      approvers: [approver-user]
  - id: done
    uses: shell
    needs: gate
    with:
      command: [echo, approved]
`;

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/**
 * The real CLI entry (`main` with an argv), run in this process with its own environment and its
 * output captured: a fresh Node with tsx per command costs seconds on a busy machine. One at a time,
 * since the environment and the console are the process's. One test runs the CLI as its own process.
 */
async function inProcess(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  const savedEnv = { ...process.env };
  const { log, error } = console;
  const stdout: string[] = [];
  const stderr: string[] = [];
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  console.log = (...parts: unknown[]) => stdout.push(`${format(...parts)}\n`);
  console.error = (...parts: unknown[]) => stderr.push(`${format(...parts)}\n`);
  process.exitCode = undefined;
  try {
    await main(['node', 'qubinode', ...args]);
  } finally {
    console.log = log;
    console.error = error;
    for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
    Object.assign(process.env, savedEnv);
  }
  const code = typeof process.exitCode === 'number' ? process.exitCode : 0;
  process.exitCode = undefined;
  return { code, stdout: stdout.join(''), stderr: stderr.join('') };
}

/** One CLI command at a time, in order. */
let queue: Promise<unknown> = Promise.resolve();
function qubinode(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  const next = queue.then(() => inProcess(args, env));
  queue = next.catch(() => undefined);
  return next;
}

function both(result: CliResult): string {
  return `${result.stdout}\n${result.stderr}`;
}

describe('the CLI through the Navigator API with a personal token', () => {
  let engine: TestEngine;
  let app: ReturnType<typeof buildApiServer>;
  let base: string;
  let store: Parameters<typeof issueToken>[0];
  const tokens: Record<string, string> = {};
  const servers: Server[] = [];
  let startedRunId: string;

  /** The CLI with only the API's address and a token; TEMPORAL_ADDRESS points at nothing. */
  const env = (token: string | undefined, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ QUBINODE_API_URL: base, QUBINODE_API_TOKEN: token, QUBINODE_API_TOKEN_FILE: undefined, QUBINODE_USER: undefined, TEMPORAL_ADDRESS: NO_TEMPORAL, QUBINODE_AI_ANALYSIS: 'rules', ...extra });
  const cli = (token: string | undefined, args: readonly string[], extra: NodeJS.ProcessEnv = {}): Promise<CliResult> => qubinode(args, env(token, extra));

  before(async () => {
    engine = await startTestEngine();
    const repoDir = mkdtempSync(path.join(tmpdir(), 'qubinode-cli-api-'));
    mkdirSync(path.join(repoDir, 'dags'));
    writeFileSync(path.join(repoDir, 'dags', 'gated.yaml'), GATED_DAG);
    writeFileSync(path.join(repoDir, 'dags', 'broken.yaml'), 'id: broken\ntasks: []\n');
    const config = {
      ...engine.config,
      taskQueue: engine.taskQueue,
      dagDirectories: [
        { repo: 'examples', dir: path.join(PROJECT_ROOT, 'dag-repos', 'examples') },
        { repo: 'cliapi', dir: repoDir },
      ],
      identity: { workflowId: `identity/cli-api-${randomUUID()}` },
    };
    app = buildApiServer({ config, logger: createLogger('error', 'cli-api-test'), client: engine.client, registry: actionRegistryWith(loadConfiguredPlugins(config)), token: BOOTSTRAP, identityMaxAgeMs: 200 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    store = { client: engine.client, workflowId: config.identity.workflowId, taskQueue: engine.taskQueue };
    for (const role of ['viewer', 'operator', 'approver', 'admin'] as const) {
      await addUser(store, `${role}-user`, [role]);
      tokens[role] = (await issueToken(store, { user: `${role}-user`, lifetime: '1h' })).token;
    }
    // A finished run for the viewer to read, started by the operator through the API.
    const answer = await apiRequest(base, 'POST', '/api/runs', tokens.operator as string, { dag: 'examples/hello', params: { api_url: `${base}/healthz` } });
    assert.equal(answer.status, 201, await answer.clone().text());
    startedRunId = ((await answer.json()) as { runId: string }).runId;
    await engine.wait(startedRunId);
  });

  after(async () => {
    for (const server of servers) server.close();
    await app.close();
    await engine.close();
  });

  it('runs examples/hello with an operator token and --wait, shows its status and a task log, with Temporal unreachable from the CLI', async () => {
    const run = await cli(tokens.operator, ['run', 'examples/hello', '-p', `api_url=${base}/healthz`, '-p', 'names=["delta"]', '--wait']);
    assert.equal(run.code, 0, both(run));
    const runId = /started (dag\/examples\/hello\/\S+)/.exec(run.stdout)?.[1];
    assert.ok(runId, run.stdout);
    assert.match(run.stdout, /state {3}succeeded/);
    const badParam = await cli(tokens.operator, ['run', 'examples/hello', '-p', 'nope=1']);
    assert.equal(badParam.code, 1);
    assert.match(badParam.stderr, /bad params, nothing started:\n {2}param nope: unknown param; known params: greeting, names, api_url/);
    const [status, logs, json] = await Promise.all([cli(tokens.operator, ['status', runId]), cli(tokens.operator, ['logs', runId, 'greet']), cli(tokens.operator, ['status', runId, '--json'])]);
    assert.equal(status.code, 0, both(status));
    assert.match(status.stdout, new RegExp(`run {5}${runId}`));
    assert.match(status.stdout, /greet +shell +✔ succeeded/);
    assert.equal(logs.code, 0, both(logs));
    assert.match(logs.stdout, /Hello, delta!/);
    const parsed = JSON.parse(json.stdout) as { status: string; params: { names: string[] } };
    assert.equal(parsed.status, 'succeeded');
    // The -p value was converted from its command-line string to the param's type before it was sent.
    assert.deepEqual(parsed.params.names, ['delta']);
  });

  it('lets a viewer token list and show runs and the DAG catalog, and refuses it a run naming the role it needs', async () => {
    const [runs, status, list, show, run, whoami] = await Promise.all([
      cli(tokens.viewer, ['runs', '--dag', 'examples/hello', '--json']),
      cli(tokens.viewer, ['status', startedRunId]),
      cli(tokens.viewer, ['dag', 'list']),
      cli(tokens.viewer, ['dag', 'show', 'examples/hello']),
      // The one command run as its own process, exactly as an operator's shell would.
      qubinodeFromSource(['run', 'examples/hello'], env(tokens.viewer)),
      cli(tokens.viewer, ['whoami']),
    ]);
    assert.equal(runs.code, 0, both(runs));
    const listed = JSON.parse(runs.stdout) as { runId: string; startedBy?: string }[];
    assert.equal(listed.find((entry) => entry.runId === startedRunId)?.startedBy, 'operator-user');
    assert.equal(status.code, 0, both(status));
    assert.match(status.stdout, /state {3}succeeded/);
    assert.match(list.stdout, /examples\/hello +6 +yes/);
    assert.match(list.stdout, /cliapi\/gated +2 +yes/);
    assert.equal(show.code, 0, both(show));
    assert.match(show.stdout, /greet +shell +prepare/);
    const broken = await cli(tokens.viewer, ['dag', 'show', 'cliapi/broken']);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /invalid DAG\n {2}\S*broken\.yaml:2:\d+ tasks: a DAG needs at least one task/);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /the API refused POST \/api\/runs \(403\): forbidden: this needs the operator role/);
    assert.match(whoami.stdout, /^viewer-user \(viewer\) via token at http:\/\/127\.0\.0\.1:\d+/);
  });

  it('approves a waiting gate through the API as the approver named in it, after refusing a viewer', async () => {
    const started = await cli(tokens.operator, ['run', 'cliapi/gated']);
    assert.equal(started.code, 0, both(started));
    const runId = /started (dag\/cliapi\/gated\/\S+)/.exec(started.stdout)?.[1] as string;
    await until(async () => (await cli(tokens.viewer, ['status', runId])).stdout.includes('approval gate: waiting'), 60_000, 'the gate to wait');
    const refused = await cli(tokens.viewer, ['approve', runId, 'gate']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\(403\): forbidden: this needs the approver role/);
    const approved = await cli(tokens.approver, ['approve', runId, 'gate', '-c', 'looks fine']);
    assert.equal(approved.code, 0, both(approved));
    assert.match(approved.stdout, /gate: approved by approver-user — looks fine/);
    const final = await engine.wait(runId);
    assert.equal(final.state, 'succeeded');
    assert.equal(final.approvals?.[0]?.by, 'approver-user');
  });

  it('cancels, rolls back, retries and aborts runs through the API with an operator token, after refusing a viewer', async () => {
    const started = await cli(tokens.operator, ['run', 'cliapi/gated', '--json']);
    const runId = (JSON.parse(started.stdout) as { runId: string }).runId;
    const refused = await cli(tokens.viewer, ['cancel', runId]);
    assert.match(refused.stderr, /\(403\): forbidden: this needs the operator role/);
    await until(async () => (await cli(tokens.viewer, ['status', runId])).stdout.includes('approval gate: waiting'), 60_000, 'the gate to wait');
    const cancelled = await cli(tokens.operator, ['cancel', runId]);
    assert.equal(cancelled.code, 0, both(cancelled));
    assert.match(cancelled.stdout, new RegExp(`cancellation requested for ${runId}`));
    assert.equal((await engine.wait(runId)).state, 'cancelled');
    const [rollback, rollout] = [await cli(tokens.operator, ['rollback', runId]), await cli(tokens.viewer, ['rollout', runId])];
    assert.equal(rollback.code, 0, both(rollback));
    assert.match(rollback.stdout, /^rollback succeeded \(/);
    assert.equal(rollout.code, 1);
    assert.match(rollout.stderr, /has no started rollout task/);
    const retried = await cli(tokens.operator, ['retry', runId]);
    assert.equal(retried.code, 0, both(retried));
    const retryId = /started (dag\/cliapi\/gated\/\S+) \(retry of/.exec(retried.stdout)?.[1] as string;
    assert.ok(retryId, retried.stdout);
    await until(async () => (await cli(tokens.viewer, ['status', retryId])).stdout.includes('approval gate: waiting'), 60_000, 'the retry to wait at its gate');
    const aborted = await cli(tokens.operator, ['abort', retryId, '-r', 'not needed']);
    assert.equal(aborted.code, 0, both(aborted));
    assert.match(aborted.stdout, new RegExp(`abort requested for ${retryId}`));
    assert.notEqual((await engine.wait(retryId)).state, 'running');
  });

  it('shows repositories to a viewer, refuses it a sync naming the operator role, and refuses repo add without dialing Temporal', async () => {
    const [list, sync, show, add] = await Promise.all([
      cli(tokens.viewer, ['repo', 'list']),
      cli(tokens.viewer, ['repo', 'sync', 'nothing-here']),
      cli(tokens.operator, ['repo', 'show', 'nothing-here']),
      cli(tokens.admin, ['repo', 'add', 'x', 'https://example.invalid/x.git']),
    ]);
    assert.equal(list.code, 0, both(list));
    assert.equal(sync.code, 1);
    assert.match(sync.stderr, /\(403\): forbidden: this needs the operator role/);
    assert.equal(show.code, 1);
    assert.match(show.stderr, /no repository "nothing-here"/);
    assert.equal(add.code, 1);
    assert.match(add.stderr, /talks to Temporal directly.*unset QUBINODE_API_URL/);
    assert.doesNotMatch(add.stderr, /cannot reach Temporal/);
  });

  it('syncs a registered repository through the API with an operator token and shows its new live commit', async () => {
    const git = new GitFixture();
    const name = `cliapi${Date.now().toString(36)}`;
    try {
      git.write('dags/hello.yaml', 'id: hello\ntasks:\n  - id: say\n    uses: shell\n    with:\n      command: [echo, hi]\n');
      git.commitAndPush('first');
      // Registering stays an admin's direct act on the control plane.
      await addRepo(engine.client, { name, url: git.bare, branch: 'main' }, engine.taskQueue);
      await until(async () => (await getRepo(engine.client, name)).lastSync !== undefined, 60_000, 'the first sync');
      const second = git.write('dags/hello.yaml', 'id: hello\ntasks:\n  - id: say\n    uses: shell\n    with:\n      command: [echo, again]\n').commitAndPush('second');
      const sync = await cli(tokens.operator, ['repo', 'sync', name]);
      assert.equal(sync.code, 0, both(sync));
      assert.match(sync.stdout, new RegExp(`^accepted ${second.slice(0, 12)}`));
      const [show, list] = await Promise.all([cli(tokens.viewer, ['repo', 'show', name]), cli(tokens.viewer, ['repo', 'list'])]);
      assert.match(show.stdout, new RegExp(`active\\s+${second}`));
      assert.match(list.stdout, new RegExp(`${name} +main +${second.slice(0, 12)} +1`));
    } finally {
      await removeRepo(engine.client, name).catch(() => undefined);
      git.cleanup();
    }
  });

  it('refuses repository names and DAG ids that are not plain names at the API, before any workflow is asked', async () => {
    for (const url of ['/api/repos/a%20b', '/api/repos/..%2F..%2Fapi', '/api/repos/x;rm']) {
      const answer = await apiRequest(base, 'GET', url, tokens.viewer as string);
      assert.ok([400, 404].includes(answer.status), `${url} answered ${answer.status}`);
    }
    const injected = await apiRequest(base, 'POST', '/api/repos/a%0Ab/sync', tokens.operator as string);
    assert.equal(injected.status, 400);
    const dag = await apiRequest(base, 'GET', '/api/dags/examples/hello/..%2F..', tokens.viewer as string);
    assert.equal(dag.status, 400);
  });

  it('lets an admin token manage users and tokens and read the audit trail through the API', async () => {
    const added = await cli(tokens.admin, ['user', 'add', 'carol', 'operator']);
    assert.equal(added.code, 0, both(added));
    const issued = await cli(tokens.admin, ['token', 'issue', '--user', 'carol', '--expires', '1h', '--json']);
    assert.equal(issued.code, 0, both(issued));
    const { id, token } = JSON.parse(issued.stdout) as { id: string; token: string };
    const carol = await cli(token, ['whoami']);
    assert.match(carol.stdout, /^carol \(operator\) via token/);
    const [list, users, revoked] = await Promise.all([cli(tokens.admin, ['token', 'list', '--user', 'carol']), cli(tokens.admin, ['user', 'list']), cli(tokens.admin, ['token', 'revoke', id])]);
    assert.match(list.stdout, new RegExp(`${id} +carol`));
    assert.match(users.stdout, /carol +operator +active/);
    assert.match(revoked.stdout, new RegExp(`revoked token ${id} of carol`));
    const audit = await cli(tokens.admin, ['audit', '--action', 'token.', '--json']);
    assert.equal(audit.code, 0, both(audit));
    const entries = JSON.parse(audit.stdout) as { actor: string; via: string; action: string; target: string }[];
    assert.ok(entries.some((entry) => entry.actor === 'admin-user' && entry.via === 'token' && entry.action === 'token.issue' && entry.target === 'user/carol'), audit.stdout);
    const refused = await cli(tokens.operator, ['audit']);
    assert.match(refused.stderr, /\(403\): forbidden: this needs the admin role/);
  });

  it('refuses to work without a token, and never picks up the server bootstrap token file on its own', async () => {
    const tokenFile = path.join(mkdtempSync(path.join(tmpdir(), 'qubinode-token-')), 'api-token');
    writeFileSync(tokenFile, `${BOOTSTRAP}\n`, { mode: 0o644 });
    chmodSync(tokenFile, 0o644);
    const open = await cli(undefined, ['whoami'], { QUBINODE_API_TOKEN_FILE: tokenFile });
    assert.equal(open.code, 1);
    assert.match(open.stderr, /readable by others; chmod 600 it/);
    chmodSync(tokenFile, 0o600);
    const none = await cli(undefined, ['runs'], { QUBINODE_DATA_DIR: path.dirname(tokenFile) });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /QUBINODE_API_URL is set but no token is: set QUBINODE_API_TOKEN or QUBINODE_API_TOKEN_FILE/);
    // Named explicitly, a token file is read (here: the bootstrap token, which acts as the admin).
    const named = await cli(undefined, ['whoami'], { QUBINODE_API_TOKEN_FILE: tokenFile });
    assert.match(named.stdout, /^bootstrap-admin \(admin\) via bootstrap/);
    const blank = await cli('qnt_has a blank in the middle', ['runs']);
    assert.equal(blank.code, 1);
    assert.match(blank.stderr, /printable characters without blanks/);
    assert.doesNotMatch(blank.stderr, /has a blank/);
  });

  it('refuses a revoked token with the API’s 401 and says what to check', async () => {
    const issued = await issueToken(store, { user: 'viewer-user', lifetime: '1h' });
    assert.equal((await cli(issued.token, ['runs', '--limit', '1'])).code, 0);
    await revokeToken(store, issued.record.id);
    let result: CliResult | undefined;
    await until(async () => {
      result = await cli(issued.token, ['runs', '--limit', '1']);
      return result.code !== 0;
    }, 60_000, 'the revoked token to be refused');
    assert.match(result?.stderr ?? '', /the API refused the token \(401\): missing or invalid bearer token; check QUBINODE_API_TOKEN/);
    assert.doesNotMatch(both(result as CliResult), new RegExp(issued.token));
  });

  it('never prints the token, even when a server repeats it in an error, a failure or a malformed answer, and refuses an oversized answer', async () => {
    // A misbehaving server at the boundary: it echoes the Authorization header everywhere.
    const echo = createHttpServer((request, response) => {
      const said = String(request.headers.authorization);
      const route = request.url ?? '';
      if (route.startsWith('/api/runs?')) response.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `bad token ${said}` }));
      else if (route.startsWith('/api/audit')) response.writeHead(200, { 'content-type': 'application/json' }).end(`[${'"x",'.repeat(9_000_000)}"x"]`);
      else if (route.startsWith('/api/dags')) response.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: said, requestId: said }));
      else response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ user: 7, echoed: said }));
    });
    servers.push(echo);
    const echoBase = `http://127.0.0.1:${await listen(echo)}`;
    const canary = `qnt_canary${randomUUID().replace(/-/g, '')}`;
    const oversized = await qubinode(['audit'], { QUBINODE_API_URL: echoBase, QUBINODE_API_TOKEN: canary, TEMPORAL_ADDRESS: NO_TEMPORAL });
    assert.equal(oversized.code, 1);
    assert.match(oversized.stderr, /GET \/api\/audit: the answer is larger than 32 MB/);
    for (const args of [['runs'], ['dag', 'list'], ['whoami']]) {
      const result = await qubinode(args, { QUBINODE_API_URL: echoBase, QUBINODE_API_TOKEN: canary, TEMPORAL_ADDRESS: NO_TEMPORAL });
      assert.equal(result.code, 1, `${args.join(' ')}: ${both(result)}`);
      assert.ok(!both(result).includes(canary.slice(4)), `${args.join(' ')} printed the token: ${both(result)}`);
      assert.match(result.stderr, /\[token\]|unexpected answer/);
    }
  });

  it('refuses an API URL that is plain http to another host, holds a user name or password, or has an encoded or dot-segment path', async () => {
    const cases: [string, RegExp][] = [
      ['http://192.0.2.10:8788', /plain http to 192\.0\.2\.10 would send the token in clear; use https/],
      ['https://operator:s3cret-pass@api.example.invalid', /must not hold a user name or password/],
      ['https://api.example.invalid/%2e%2e/api', /no percent-encoding/],
      ['https://api.example.invalid/%61pi', /no percent-encoding/],
      ['https://api.example.invalid/a/../b', /"\." or "\.\." path segments/],
      ['https://api.example.invalid/?next=evil', /query or fragment/],
      ['ftp://api.example.invalid', /must be https/],
    ];
    const results = await Promise.all(cases.map(([url]) => qubinode(['runs'], { QUBINODE_API_URL: url, QUBINODE_API_TOKEN: tokens.viewer, TEMPORAL_ADDRESS: NO_TEMPORAL })));
    results.forEach((result, index) => {
      const [url, expected] = cases[index] as [string, RegExp];
      assert.equal(result.code, 1, url);
      assert.match(result.stderr, expected, url);
      assert.doesNotMatch(result.stderr, /s3cret-pass/);
    });
    // Plain http stays possible to a non-loopback host only when explicitly allowed (a trusted tunnel).
    assert.equal(loadConfig({ QUBINODE_API_URL: 'http://192.0.2.10:8788/', QUBINODE_API_ALLOW_HTTP: 'true' }).remoteApi?.url, 'http://192.0.2.10:8788');
  });

  it('keeps an injected run id inside the runs route: dot segments and slashes never reach another route', async () => {
    const [dots, users] = await Promise.all([cli(tokens.admin, ['status', '../../users']), cli(tokens.admin, ['status', 'x/../../../api/users'])]);
    for (const result of [dots, users]) {
      assert.equal(result.code, 1, both(result));
      assert.match(result.stderr, /no run|not found/);
      assert.doesNotMatch(result.stdout, /viewer-user/);
    }
  });

  it('trusts a control plane with its own CA only when QUBINODE_API_CA names it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'qubinode-api-ca-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=qubinode-api', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    const upstream = new URL(base);
    // TLS in front of the real API, as a reverse proxy on a control plane would put it.
    const proxy = createHttpsServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) }, (request, response) => {
      const forward = httpRequest({ host: upstream.hostname, port: upstream.port, method: request.method, path: request.url, headers: request.headers }, (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      });
      request.pipe(forward);
    });
    servers.push(proxy);
    const httpsBase = `https://127.0.0.1:${await listen(proxy)}`;
    const tlsEnv = { QUBINODE_API_URL: httpsBase, QUBINODE_API_TOKEN: tokens.viewer, TEMPORAL_ADDRESS: NO_TEMPORAL };
    const [untrusted, trusted] = await Promise.all([qubinode(['whoami'], tlsEnv), qubinode(['whoami'], { ...tlsEnv, QUBINODE_API_CA: path.join(dir, 'cert.pem') })]);
    assert.equal(untrusted.code, 1);
    assert.match(untrusted.stderr, /cannot reach the API at https:\/\/127\.0\.0\.1:\d+: .*set QUBINODE_API_CA/);
    assert.equal(trusted.code, 0, both(trusted));
    assert.match(trusted.stdout, /^viewer-user \(viewer\) via token at https:/);
  });
});
