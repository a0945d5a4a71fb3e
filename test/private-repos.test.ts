import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { loadCatalog } from '../client/catalog';
import { addRepo, getRepo, removeRepo } from '../client/repos';
import { startRun } from '../client/runs';
import { openGitAccess } from '../activities/platform/git/credentials';
import { GitCache } from '../activities/platform/git/git-cache';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { checkoutSource } from '../workers/repo-checkout';
import { qubinodeFromSource } from './support/cli';
import { startTestEngine, type TestEngine } from './support/engine';
import { dagYaml, GitFixture } from './support/git-fixture';
import { GitHttpServer, SshGitServer, sshdUnavailable } from './support/git-server';
import { until } from './support/waiting';

// Values the worker reads from its environment, as an operator would set them.
const token = `qnt-${randomUUID()}`;
const wrongToken = `wrong-${randomUUID()}`;
process.env.QUBINODE_TEST_GIT_TOKEN = token;
process.env.QUBINODE_TEST_GIT_TOKEN_WRONG = wrongToken;

const basicOf = (secret: string): string => Buffer.from(`x-access-token:${secret}`).toString('base64');

async function waitForSync(engine: TestEngine, name: string) {
  let view = await getRepo(engine.client, name);
  await until(async () => {
    view = await getRepo(engine.client, name);
    return view.lastSync !== undefined && !view.syncing && !view.pending;
  }, 90_000, `a sync result for ${name}`);
  assert.ok(view.lastSync);
  return view.lastSync;
}

async function historyText(engine: TestEngine, name: string): Promise<string> {
  return JSON.stringify(await engine.client.workflow.getHandle(`repo/${name}`).fetchHistory());
}

/** Command lines of every process on this machine, NUL separators as spaces. */
function allCommandLines(): string[] {
  const lines: string[] = [];
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      lines.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' '));
    } catch {
      // The process ended between listing and reading.
    }
  }
  return lines;
}

function rejectsWith(type: string, check: (message: string) => void) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
    assert.equal(error.type, type, error.message);
    check(error.message);
    return true;
  };
}

describe('private repositories over https with a token (real git http-backend behind Basic auth, real Temporal)', () => {
  let engine: TestEngine;
  let git: GitFixture;
  let server: GitHttpServer;
  const scratch = mkdtempSync(path.join(tmpdir(), 'qubinode-private-'));
  const names = { good: `p${randomUUID().slice(0, 8)}`, wrong: `w${randomUUID().slice(0, 8)}`, none: `n${randomUUID().slice(0, 8)}` };

  before(async () => {
    engine = await startTestEngine();
    git = new GitFixture();
    git.write('dags/hello.yaml', dagYaml('hello'));
    git.write('scripts/report.sh', 'echo "private report from $(basename "$QUBINODE_REPO_DIR")"\n');
    git.write('dags/reads-file.yaml', 'id: reads-file\ntasks:\n  - id: report\n    uses: shell\n    with: { command: [bash, scripts/report.sh] }\n');
    git.commitAndPush('first');
    server = await new GitHttpServer(git.root, token).start();
  });
  after(async () => {
    for (const name of Object.values(names)) await removeRepo(engine.client, name).catch(() => undefined);
    await server.close();
    await engine.close();
    git.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('syncs with the token its tokenEnv names and runs a task from a checkout of the pinned commit', async () => {
    await addRepo(engine.client, { name: names.good, url: server.url('origin.git'), tokenEnv: 'QUBINODE_TEST_GIT_TOKEN' }, engine.taskQueue);
    const record = await waitForSync(engine, names.good);
    assert.equal(record.state, 'accepted', record.message);
    assert.equal(record.commit, git.head());
    assert.ok(server.seen.some((request) => request.authorized), 'the server saw no authorised request');
    const { catalog } = await loadCatalog({ ...engine.config, dagDirectories: [] }, new ActionRegistry(), engine.client);
    const run = await startRun(engine.client, { dag: catalog.get(`${names.good}/reads-file`).dag!, params: {}, taskQueue: engine.taskQueue });
    const status = await engine.wait(run.runId);
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks[0]?.error));
    assert.equal(status.tasks[0]?.outputs?.stdout, `private report from ${git.head()}\n`);
  });

  it('refuses a wrong token with a message that names the variable, never the token, in the sync record or the history', async () => {
    await addRepo(engine.client, { name: names.wrong, url: server.url('origin.git'), tokenEnv: 'QUBINODE_TEST_GIT_TOKEN_WRONG' }, engine.taskQueue);
    const record = await waitForSync(engine, names.wrong);
    assert.equal(record.state, 'rejected');
    assert.match(record.message, /cannot fetch .*: the server (refused the token from QUBINODE_TEST_GIT_TOKEN_WRONG|did not accept the token)/);
    const history = await historyText(engine, names.wrong);
    for (const leaked of [wrongToken, basicOf(wrongToken)]) {
      assert.ok(!record.message.includes(leaked), 'the sync message carries the token');
      assert.ok(!history.includes(leaked), 'the workflow history carries the token');
    }
    assert.ok(server.seen.some((request) => request.authorization === `Basic ${basicOf(wrongToken)}`), 'the wrong token was never presented');
  });

  it('refuses a repository that asks for credentials when none are configured, and says what to set', async () => {
    await addRepo(engine.client, { name: names.none, url: server.url('origin.git') }, engine.taskQueue);
    const record = await waitForSync(engine, names.none);
    assert.equal(record.state, 'rejected');
    assert.match(record.message, /asks for credentials and none are configured \(set --token-env/);
  });

  it('checks a commit out by SHA on a worker with an empty cache with the token, and refuses without it', async () => {
    const url = server.url('origin.git');
    const commit = git.head();
    const withToken = await checkoutSource(new GitCache(path.join(scratch, 'with')), { repo: 'private', url, commit, credentialEnv: { tokenEnv: 'QUBINODE_TEST_GIT_TOKEN' } });
    assert.equal(readFileSync(path.join(withToken, 'dags', 'hello.yaml'), 'utf8'), dagYaml('hello'));
    await assert.rejects(
      checkoutSource(new GitCache(path.join(scratch, 'without')), { repo: 'private', url, commit }),
      rejectsWith('GitAuthFailed', (message) => assert.match(message, /repo private: cannot fetch/)),
    );
    await assert.rejects(
      checkoutSource(new GitCache(path.join(scratch, 'unset')), { repo: 'private', url, commit, credentialEnv: { tokenEnv: 'QUBINODE_TEST_GIT_TOKEN_UNSET' } }),
      rejectsWith('SecretNotFound', (message) => assert.match(message, /QUBINODE_TEST_GIT_TOKEN_UNSET \(tokenEnv\) is not set on the worker/)),
    );
  });

  it('keeps the token off every command line and out of the mirror while a fetch is in flight', async () => {
    const cache = new GitCache(path.join(scratch, 'argv'));
    const url = server.url('origin.git');
    server.hold();
    const fetching = cache.fetch(url, { name: 'private', tokenEnv: 'QUBINODE_TEST_GIT_TOKEN' });
    try {
      await until(() => server.heldCount() > 0, 30_000, 'the fetch to reach the server');
      const withSecret = allCommandLines().filter((line) => line.includes(token) || line.includes(basicOf(token)));
      assert.deepEqual(withSecret, []);
    } finally {
      server.release();
    }
    const mirror = await fetching;
    for (const file of ['config', 'FETCH_HEAD']) {
      const text = readFileSync(path.join(mirror, file), 'utf8');
      assert.ok(!text.includes(token) && !text.includes(basicOf(token)), `${file} of the mirror carries the token`);
    }
    assert.ok(server.seen.some((request) => request.authorization === `Basic ${basicOf(token)}`), 'the token was never presented');
  });

  it('scopes the token to the repository URL and refuses to send it over plain http to another host', () => {
    const access = openGitAccess('http://127.0.0.1:1/team/dags.git', { name: 'r', tokenEnv: 'T' }, { sshDir: scratch, env: { T: 'secret-value' } });
    assert.equal(access.env.GIT_CONFIG_KEY_0, 'http.http://127.0.0.1:1/team/dags.git.extraHeader');
    assert.deepEqual(access.unsafe, { allowUnsafeConfigEnvCount: true });
    const injected = openGitAccess('http://127.0.0.1:1/team/dags.git', { name: 'r', tokenEnv: 'T' }, { sshDir: scratch, env: { T: 'tok\r\nX-Injected: 1\n' } });
    assert.doesNotMatch(injected.env.GIT_CONFIG_VALUE_0 ?? '', /[\r\n]|X-Injected/, 'a token must not add header lines');
    assert.throws(
      () => openGitAccess('http://git.example.invalid/team/dags.git', { name: 'r', tokenEnv: 'T' }, { sshDir: scratch, env: { T: 'secret-value' } }),
      rejectsWith('InsecureCredentialTransport', (message) => assert.ok(!message.includes('secret-value'))),
    );
  });
});

const sshSkip = sshdUnavailable();
if (sshSkip) console.log(`# ssh repository tests skipped: ${sshSkip}`);

describe('private repositories over ssh with a key (Debian OpenSSH server on a loopback port, real Temporal)', { skip: sshSkip }, () => {
  let engine: TestEngine;
  let git: GitFixture;
  let sshd: SshGitServer;
  const scratch = mkdtempSync(path.join(tmpdir(), 'qubinode-private-ssh-'));
  const names = { good: `s${randomUUID().slice(0, 8)}`, keyless: `k${randomUUID().slice(0, 8)}`, cli: `c${randomUUID().slice(0, 8)}` };

  before(async () => {
    sshd = await new SshGitServer().start();
    process.env.QUBINODE_TEST_SSH_KEY = sshd.clientKeyText;
    process.env.QUBINODE_TEST_SSH_KEY_FILE = sshd.clientKey;
    process.env.QUBINODE_TEST_KNOWN_HOSTS = `${sshd.knownHostsLine}\n`;
    engine = await startTestEngine();
    git = new GitFixture();
    git.write('dags/hello.yaml', dagYaml('hello')).commitAndPush('first');
  });
  after(async () => {
    for (const name of Object.values(names)) await removeRepo(engine.client, name).catch(() => undefined);
    await engine.close();
    await sshd.close();
    git.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('syncs over ssh:// with the key from sshKeyEnv and the host key from knownHostsEnv', async () => {
    await addRepo(engine.client, { name: names.good, url: sshd.url(git.bare), sshKeyEnv: 'QUBINODE_TEST_SSH_KEY', knownHostsEnv: 'QUBINODE_TEST_KNOWN_HOSTS' }, engine.taskQueue);
    const record = await waitForSync(engine, names.good);
    assert.equal(record.state, 'accepted', record.message);
    assert.equal(record.commit, git.head());
    assert.deepEqual((await getRepo(engine.client, names.good)).active?.dags.map((dag) => dag.origin.credentialEnv), [{ sshKeyEnv: 'QUBINODE_TEST_SSH_KEY', knownHostsEnv: 'QUBINODE_TEST_KNOWN_HOSTS' }]);
    assert.ok(!(await historyText(engine, names.good)).includes(sshd.clientKeyText.split('\n')[1] ?? 'no key body'), 'the history carries the key');
  });

  it('refuses ssh without a key, with a message that says what to set', async () => {
    await addRepo(engine.client, { name: names.keyless, url: sshd.url(git.bare), knownHostsEnv: 'QUBINODE_TEST_KNOWN_HOSTS' }, engine.taskQueue);
    const record = await waitForSync(engine, names.keyless);
    assert.equal(record.state, 'rejected');
    assert.match(record.message, /the SSH server refused this worker \(set --ssh-key-env\)/);
  });

  it('checks a commit out by SHA over ssh with a key file, pinning the host key at first contact and leaving no key copies behind', async () => {
    const cache = new GitCache(path.join(scratch, 'pinned'));
    const dir = await checkoutSource(cache, { repo: 'private', url: sshd.url(git.bare), commit: git.head(), credentialEnv: { sshKeyEnv: 'QUBINODE_TEST_SSH_KEY_FILE' } });
    assert.ok(existsSync(path.join(dir, 'dags', 'hello.yaml')));
    assert.match(readFileSync(path.join(cache.sshDir, 'known_hosts'), 'utf8'), new RegExp(`^\\[127\\.0\\.0\\.1\\]:${sshd.port} ssh-ed25519 `, 'm'));
    const second = new GitCache(path.join(scratch, 'key-text'));
    // A key copy left by a worker killed mid-fetch an hour and more ago.
    const stale = path.join(second.sshDir, 'run-killed');
    mkdirSync(stale, { recursive: true });
    writeFileSync(path.join(stale, 'id'), 'left behind');
    utimesSync(stale, new Date(Date.now() - 2 * 3600_000), new Date(Date.now() - 2 * 3600_000));
    await second.fetch(sshd.url(git.bare), { name: 'private', sshKeyEnv: 'QUBINODE_TEST_SSH_KEY', knownHostsEnv: 'QUBINODE_TEST_KNOWN_HOSTS' });
    assert.deepEqual(readdirSync(second.sshDir).filter((entry) => entry.startsWith('run-')), [], 'a temporary key file was left behind');
  });

  it('registers an ssh repository from the CLI with --ssh-key-env and --known-hosts-env, showing names, never the key', async () => {
    const env = { QUBINODE_TASK_QUEUE: engine.taskQueue };
    const added = await qubinodeFromSource(['repo', 'add', names.cli, sshd.url(git.bare), '--ssh-key-env', 'QUBINODE_TEST_SSH_KEY', '--known-hosts-env', 'QUBINODE_TEST_KNOWN_HOSTS'], env);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, new RegExp(`accepted ${git.head().slice(0, 12)}`));
    const shown = await qubinodeFromSource(['repo', 'show', names.cli], env);
    assert.match(shown.stdout, /ssh key from \$QUBINODE_TEST_SSH_KEY; host keys from \$QUBINODE_TEST_KNOWN_HOSTS \(strict\)/);
    const keyBody = sshd.clientKeyText.split('\n')[1] ?? 'no key body';
    assert.ok(!`${added.stdout}${added.stderr}${shown.stdout}${shown.stderr}`.includes(keyBody), 'the CLI printed the key');
  });

  it('passes a key file path with quotes, spaces and command substitutions to ssh as data', async () => {
    const pwned = path.join(scratch, 'pwned');
    const odd = path.join(scratch, `key dir '"$(touch ${pwned})\`touch ${pwned}\`;`);
    mkdirSync(odd, { recursive: true });
    const keyFile = path.join(odd, 'id');
    writeFileSync(keyFile, sshd.clientKeyText, { mode: 0o600 });
    process.env.QUBINODE_TEST_SSH_KEY_ODD = keyFile;
    await new GitCache(path.join(scratch, 'odd')).fetch(sshd.url(git.bare), { name: 'private', sshKeyEnv: 'QUBINODE_TEST_SSH_KEY_ODD', knownHostsEnv: 'QUBINODE_TEST_KNOWN_HOSTS' });
    assert.equal(existsSync(pwned), false, 'a command in the key path ran');
  });

  it('refuses a server whose host key is not the known one, and one whose key changed after it was pinned', async () => {
    const other = path.join(scratch, 'other_host_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const [type, key] = readFileSync(`${other}.pub`, 'utf8').trim().split(/\s+/);
    const impostor = `[127.0.0.1]:${sshd.port} ${type} ${key}\n`;
    const strict = new GitCache(path.join(scratch, 'strict'));
    await assert.rejects(
      strict.fetch(sshd.url(git.bare), { name: 'private', sshKeyEnv: 'QUBINODE_TEST_SSH_KEY', knownHostsEnv: 'QUBINODE_TEST_IMPOSTOR' }),
      rejectsWith('SecretNotFound', (message) => assert.match(message, /QUBINODE_TEST_IMPOSTOR/)),
    );
    process.env.QUBINODE_TEST_IMPOSTOR = impostor;
    await assert.rejects(
      strict.fetch(sshd.url(git.bare), { name: 'private', sshKeyEnv: 'QUBINODE_TEST_SSH_KEY', knownHostsEnv: 'QUBINODE_TEST_IMPOSTOR' }),
      rejectsWith('GitHostKeyRejected', (message) => assert.match(message, /not among those in QUBINODE_TEST_IMPOSTOR/)),
    );
    const pinned = new GitCache(path.join(scratch, 'changed'));
    await pinned.fetch(sshd.url(git.bare), { name: 'private', sshKeyEnv: 'QUBINODE_TEST_SSH_KEY' });
    writeFileSync(path.join(pinned.sshDir, 'known_hosts'), impostor);
    await assert.rejects(
      pinned.fetch(sshd.url(git.bare), { name: 'private', sshKeyEnv: 'QUBINODE_TEST_SSH_KEY' }),
      rejectsWith('GitHostKeyRejected', (message) => assert.match(message, /differs from the one pinned on this worker/)),
    );
  });
});
