import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fetchOnlyTo, TokenDestinationError } from '../activities/platform/commit-status';
import { createRepoTriggerActivities } from '../activities/platform/repo-triggers';
import { forgeApiOf, repositoryLocation } from '../dag-repos/schema/forge-api';
import { RepoConfig } from '../dag-repos/schema/repo-config';
import { workerTemporalAccess } from '../client/worker-access';
import * as workflowIds from '../workflows/workflow-ids';

const TOKEN = 'forge-token-canary-7f3a9c';
const SHA = 'b'.repeat(40);

describe('forge API base from the repository URL', () => {
  const cases: [url: string, forge: string, base: string | undefined, project?: string][] = [
    ['https://github.com/acme/dags.git', 'github', 'https://api.github.com', 'acme/dags'],
    ['git@github.com:acme/dags.git', 'github', 'https://api.github.com', 'acme/dags'],
    ['https://ghe.example.com/acme/dags.git', 'github', 'https://ghe.example.com/api/v3', 'acme/dags'],
    ['ssh://git@ghe.example.com:2222/acme/dags.git', 'github', 'https://ghe.example.com/api/v3', 'acme/dags'],
    ['https://gitlab.com/group/sub/dags.git', 'gitlab', 'https://gitlab.com/api/v4', 'group/sub/dags'],
    ['git@gitlab.example.com:infra/hv/dags.git', 'gitlab', 'https://gitlab.example.com/api/v4', 'infra/hv/dags'],
    ['ssh://git@gitlab.example.com:2222/infra/dags', 'gitlab', 'https://gitlab.example.com/api/v4', 'infra/dags'],
    ['https://gitlab.example.com:8443/infra/dags.git', 'gitlab', 'https://gitlab.example.com:8443/api/v4', 'infra/dags'],
    ['http://gitlab.internal/infra/dags.git', 'gitlab', 'https://gitlab.internal/api/v4', 'infra/dags'],
    ['http://127.0.0.1:9999/infra/dags.git', 'gitlab', 'http://127.0.0.1:9999/api/v4', 'infra/dags'],
    ['https://bitbucket.org/ws/dags.git', 'bitbucket', 'https://api.bitbucket.org/2.0', 'ws/dags'],
    ['git@bitbucket.org:ws/dags.git', 'bitbucket', 'https://api.bitbucket.org/2.0', 'ws/dags'],
    ['https://bitbucket.example.com/scm/proj/dags.git', 'bitbucket', undefined],
    ['https://git.example.com/acme/dags.git', 'generic', undefined],
    ['/srv/git/dags.git', 'gitlab', undefined],
    ['file:///srv/git/dags.git', 'github', undefined],
    ['https://gitlab.example.com/infra/%2e%2e%2fadmin.git', 'gitlab', undefined],
    ['git@gitlab.example.com:infra/../admin.git', 'gitlab', undefined],
  ];
  for (const [url, forge, base, project] of cases) {
    it(`derives ${base ?? 'no API'} for a ${forge} repository at ${url}`, () => {
      const api = forgeApiOf({ url, forge });
      assert.equal(api?.base, base);
      if (project) assert.equal(api?.project, project);
      if (api) assert.equal(api.fromSetting, false);
    });
  }

  it('never derives gitlab.com or api.github.com for a repository hosted elsewhere', () => {
    for (const url of ['git@gitlab.example.com:a/b.git', 'https://gitlab.example.com/a/b', 'ssh://git@gitlab.example.com/a/b']) assert.doesNotMatch(forgeApiOf({ url, forge: 'gitlab' })?.base ?? '', /gitlab\.com/);
    for (const url of ['git@ghe.example.com:a/b.git', 'https://ghe.example.com/a/b']) assert.doesNotMatch(forgeApiOf({ url, forge: 'github' })?.base ?? '', /api\.github\.com/);
  });

  it('reads the host of scp-like and ssh:// URLs without taking the ssh port for the web port', () => {
    assert.deepEqual(repositoryLocation('git@gitlab.example.com:infra/dags.git'), { host: 'gitlab.example.com', scheme: 'ssh', project: 'infra/dags' });
    assert.deepEqual(repositoryLocation('ssh://git@Gitlab.Example.com:2222/infra/dags'), { host: 'gitlab.example.com', scheme: 'ssh', project: 'infra/dags' });
    assert.deepEqual(repositoryLocation('https://gitlab.example.com:8443/infra/dags.git'), { host: 'gitlab.example.com', webPort: '8443', scheme: 'https', project: 'infra/dags' });
  });

  it('uses an admin-set apiUrl as given and marks it as a setting', () => {
    const api = forgeApiOf({ url: 'git@gitlab.example.com:infra/dags.git', forge: 'gitlab', apiUrl: 'https://gitlab-api.example.com/api/v4/' });
    assert.equal(api?.base, 'https://gitlab-api.example.com/api/v4');
    assert.equal(api?.fromSetting, true);
  });

  it('refuses an apiUrl that is plain http off this machine, carries credentials, a query, or is not a URL', () => {
    for (const apiUrl of ['http://gitlab.example.com/api/v4', 'https://user:pw@gitlab.example.com/api/v4', 'https://gitlab.example.com/api/v4?x=1', 'ftp://gitlab.example.com', 'gitlab.example.com/api/v4', 'javascript:alert(1)']) {
      const parsed = RepoConfig.safeParse({ name: 'r', url: 'https://gitlab.example.com/a/b.git', forge: 'gitlab', apiUrl });
      assert.equal(parsed.success, false, apiUrl);
      assert.deepEqual(parsed.error?.issues.map((issue) => issue.path.join('.')), ['apiUrl'], apiUrl);
    }
    for (const apiUrl of ['https://gitlab.example.com/api/v4', 'http://127.0.0.1:8080/api/v4', 'http://localhost:8080']) assert.equal(RepoConfig.safeParse({ name: 'r', url: 'https://gitlab.example.com/a/b.git', apiUrl }).success, true, apiUrl);
  });
});

interface Received {
  method: string;
  url: string;
  token: string;
  body: unknown;
}

/** A local HTTP server standing in for a forge API (the real forges are not reachable from here). */
class StandIn {
  readonly received: Received[] = [];
  redirectTo: string | undefined;
  private readonly server: Server;
  origin = '';

  constructor(private readonly host: string) {
    this.server = createServer((request: IncomingMessage, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        const token = String(request.headers.authorization ?? request.headers['private-token'] ?? '');
        this.received.push({ method: request.method ?? '', url: request.url ?? '', token, body: body ? (JSON.parse(body) as unknown) : undefined });
        if (this.redirectTo) response.writeHead(307, { location: `${this.redirectTo}${request.url ?? ''}` }).end();
        else response.writeHead(201, { 'content-type': 'application/json' }).end('{}');
      });
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, this.host, resolve));
    this.origin = `http://${this.host}:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('tokens go only to their own forge (real HTTP to local stand-ins)', () => {
  // Two loopback addresses play two different hosts: the repository's forge (A) and a stranger (B).
  const hostA = new StandIn('127.0.0.1');
  const hostB = new StandIn('127.0.0.2');
  const activities = createRepoTriggerActivities({ runs: workerTemporalAccess.runs, ids: workflowIds, client: () => Promise.reject(new Error('not used')), taskQueue: 'unused' });
  const report = (config: RepoConfig, ok = true): Promise<string> => activities.reportCommitStatus({ config, commit: SHA, ok, description: ok ? 'accepted' : 'rejected' });

  before(async () => {
    await hostA.start();
    await hostB.start();
    process.env.QUBINODE_TEST_FORGE_CANARY = TOKEN;
  });
  after(async () => {
    await hostA.close();
    await hostB.close();
  });

  it('posts a self-hosted GitLab repository\'s status to its own host with its token, and nothing reaches another host', async () => {
    hostA.received.length = 0;
    hostB.received.length = 0;
    const config = RepoConfig.parse({ name: 'gl', url: `${hostA.origin}/infra/hv/dags.git`, forge: 'gitlab', tokenEnv: 'QUBINODE_TEST_FORGE_CANARY' });
    assert.equal(await report(config), 'gitlab: posted');
    assert.deepEqual(hostA.received, [{ method: 'POST', url: `/api/v4/projects/infra%2Fhv%2Fdags/statuses/${SHA}`, token: TOKEN, body: { state: 'success', name: 'qubinode/dags', description: 'accepted' } }]);
    assert.deepEqual(hostB.received, []);
  });

  it('posts a GitHub Enterprise repository\'s status to <host>/api/v3 on its own host', async () => {
    hostA.received.length = 0;
    const config = RepoConfig.parse({ name: 'ghe', url: `${hostA.origin}/acme/dags.git`, forge: 'github', tokenEnv: 'QUBINODE_TEST_FORGE_CANARY' });
    assert.equal(await report(config, false), 'github: posted');
    assert.equal(hostA.received[0]?.url, `/api/v3/repos/acme/dags/statuses/${SHA}`);
    assert.match(hostA.received[0]?.token ?? '', new RegExp(TOKEN));
  });

  for (const forge of ['gitlab', 'github'] as const) {
    it(`does not follow a ${forge} API redirect to another host, so the token never reaches it`, async () => {
      hostA.received.length = 0;
      hostB.received.length = 0;
      hostA.redirectTo = hostB.origin;
      try {
        const config = RepoConfig.parse({ name: 'r', url: `${hostA.origin}/acme/dags.git`, forge, tokenEnv: 'QUBINODE_TEST_FORGE_CANARY' });
        await assert.rejects(report(config));
        assert.equal(hostA.received.length, 1);
        assert.deepEqual(hostB.received, []);
      } finally {
        hostA.redirectTo = undefined;
      }
    });
  }

  it('refuses, before connecting, any URL outside the allowed origin', async () => {
    hostB.received.length = 0;
    const send = fetchOnlyTo(hostA.origin);
    await assert.rejects(send(`${hostB.origin}/api/v4/projects/x/statuses/${SHA}`, { method: 'POST', headers: { 'private-token': TOKEN } }), TokenDestinationError);
    // Same host, another port, is another origin too; and a user-info trick changes nothing.
    await assert.rejects(send(`${hostA.origin.replace(/:\d+$/, ':1')}/x`), TokenDestinationError);
    await assert.rejects(send(`http://${new URL(hostA.origin).host}@${new URL(hostB.origin).host}/x`), TokenDestinationError);
    assert.deepEqual(hostB.received, []);
  });

  it('sends the token to another host only when an admin set apiUrl in the repository settings', async () => {
    hostB.received.length = 0;
    const config = RepoConfig.parse({ name: 'gl', url: 'git@gitlab.example.com:infra/dags.git', forge: 'gitlab', tokenEnv: 'QUBINODE_TEST_FORGE_CANARY', apiUrl: `${hostB.origin}/api/v4` });
    assert.equal(await report(config), 'gitlab: posted');
    assert.equal(hostB.received[0]?.url, `/api/v4/projects/infra%2Fdags/statuses/${SHA}`);
    assert.equal(hostB.received[0]?.token, TOKEN);
  });

  it('posts a Bitbucket Cloud build status with a bearer token', async () => {
    hostB.received.length = 0;
    const config = RepoConfig.parse({ name: 'bb', url: 'git@bitbucket.org:ws/dags.git', forge: 'bitbucket', tokenEnv: 'QUBINODE_TEST_FORGE_CANARY', apiUrl: `${hostB.origin}/2.0` });
    assert.equal(await report(config, false), 'bitbucket: posted');
    assert.equal(hostB.received[0]?.url, `/2.0/repositories/ws/dags/commit/${SHA}/statuses/build`);
    assert.equal(hostB.received[0]?.token, `Bearer ${TOKEN}`);
    assert.deepEqual(hostB.received[0]?.body, { key: 'qubinode-dags', name: 'qubinode/dags', state: 'FAILED', description: 'rejected', url: `https://bitbucket.org/ws/dags/commits/${SHA}` });
  });

  it('skips a repository whose forge API cannot be derived instead of guessing one', async () => {
    const config = RepoConfig.parse({ name: 'bbs', url: 'https://bitbucket.example.com/scm/p/dags.git', forge: 'bitbucket', tokenEnv: 'QUBINODE_TEST_FORGE_CANARY' });
    assert.match(await report(config), /^skipped: no commit-status API/);
  });
});
