import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createNotifyActivities } from '../activities/actions/notify';
import { resolveSecretRefsAt } from '../activities/process/secret-refs';
import { DagSpec } from '../dag-repos/schema/dag-spec';
import { NotifyChannel } from '../dag-repos/schema/rollback-notify';
import { parseSecretUri, secretUriProblemsIn } from '../dag-repos/schema/secret-uri';
import type { NotifyRequest } from '../workflows/rollback-status';
import { startVaultStandIn, type VaultStandIn } from './support/vault-stand-in';
import { zodProblems } from '../config/zod-problems';

// The one grammar of secret references, and the notify channel fields that take them. Vault is the
// local stand-in of test/support/vault-stand-in.ts (no Vault server can be installed here).

describe('the secret reference grammar', () => {
  it('parses the three sources into their parts', () => {
    assert.deepEqual(parseSecretUri('secret://env/DB_PASSWORD'), { ok: true, secret: { source: 'env', name: 'DB_PASSWORD' } });
    assert.deepEqual(parseSecretUri('secret://file//run/secrets/db'), { ok: true, secret: { source: 'file', path: '/run/secrets/db' } });
    assert.deepEqual(parseSecretUri('secret://vault/kv/hypervisors/h1#root_password'), { ok: true, secret: { source: 'vault', mount: 'kv', path: 'hypervisors/h1', key: 'root_password' } });
  });

  it('refuses unknown sources, case variants, expressions, control characters and oversized text, naming the problem', () => {
    const refused: [string, RegExp][] = [
      ['secret://aws/prod/db', /unknown secret source "aws"/],
      ['secret://Vault/kv/a#b', /unknown secret source "Vault"/],
      ['SECRET://env/X', /lower case/],
      [' secret://env/X', /whitespace or control characters/],
      ['secret://vault', /expected secret:\/\/<source>\//],
      ['secret://env/X-Y', /not an environment variable name/],
      ['secret://env/', /not an environment variable name/],
      ['secret://file/', /no file path/],
      ['secret://vault/kv/a', /needs a mount, a path and a #key/],
      ['secret://vault/kv/../sys/seal-status#x', /no empty, "\." or "\.\." segment/],
      ['secret://vault/kv/%2e%2e/sys#x', /no "%"/],
      ['secret://vault/kv//a#x', /no empty/],
      ['secret://vault/kv/${{ params.host }}#pw', /never built from an expression/],
      ['secret://env/X\n', /whitespace or control characters/],
      ['secret://env/X\u0000', /whitespace or control characters/],
      [`secret://env/${'A'.repeat(2000)}`, /longer than 1024 characters/],
    ];
    for (const [text, why] of refused) {
      const parsed = parseSecretUri(text);
      assert.equal(parsed.ok, false, text);
      if (!parsed.ok) assert.match(parsed.problem, why, text);
    }
  });

  it('leaves text that does not claim to be a reference alone, and stops at a bounded depth', () => {
    assert.deepEqual(secretUriProblemsIn({ a: 'Bearer secret://aws/x', b: 'https://example.test/secret://x', c: 42 }), []);
    let deep: unknown = 'secret://aws/x';
    for (let level = 0; level < 10_000; level += 1) deep = [deep];
    assert.deepEqual(secretUriProblemsIn(deep), [], 'a value nested past the bound is not walked (the parse limits refuse such files first)');
    assert.equal(secretUriProblemsIn([['secret://aws/x']])[0]?.path.join('.'), '0.0');
  });

  it('refuses a DAG whose task, compensation or param default claims an unknown source', () => {
    const parsed = DagSpec.safeParse({
      id: 'x',
      params: { token: { default: 'secret://ssm/x' } },
      tasks: [{ id: 'a', uses: 'shell', with: { env: { T: 'secret://aws/x' } }, compensate: { uses: 'shell', with: { command: ['secret://gcp/x'] } } }],
    });
    assert.equal(parsed.success, false);
    const paths = (parsed.error?.issues ?? []).map((issue) => issue.path.join('.')).sort();
    assert.deepEqual(paths, ['params.token.default', 'tasks.0.compensate.with.command.0', 'tasks.0.with.env.T']);
  });
});

describe('notify channels with secret references', () => {
  let vault: VaultStandIn;
  let receiver: Server;
  let base: string;
  const received: IncomingHttpHeaders[] = [];
  const VALUE = 'hook-token-5f0c1d2e9a';

  before(async () => {
    vault = await startVaultStandIn({ secrets: { 'kv/hooks': { token: VALUE, broken: 'line one\r\nx-injected: yes' } } });
    receiver = createServer((request, response) => {
      received.push(request.headers);
      request.resume();
      request.on('end', () => response.writeHead(204).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  });
  after(async () => {
    await vault.close();
    receiver.close();
  });

  const request = (channel: unknown): NotifyRequest => ({ channels: [NotifyChannel.parse(channel)], event: 'failure', runId: 'dag/r/1', dagId: 'r/d', state: 'failed', text: 'run failed' }) as NotifyRequest;

  it('accepts Vault, env and file references for a webhook url and headers, and refuses malformed ones by field', () => {
    assert.ok(NotifyChannel.safeParse({ type: 'webhook', url: 'secret://vault/kv/hooks#url', headers: { authorization: 'secret://vault/kv/hooks#token', 'x-a': 'secret://env/A', 'x-b': 'plain' } }).success);
    assert.ok(NotifyChannel.safeParse({ type: 'email', smtp: 'secret://vault/kv/smtp#url', from: 'a@b.c', to: ['d@e.f'] }).success);
    const bad = NotifyChannel.safeParse({ type: 'webhook', url: 'ftp://x', headers: { authorization: 'secret://aws/x', 'bad name': 'v', 'x-split': 'a\r\nb' } });
    assert.equal(bad.success, false);
    const messages = (bad.error ? zodProblems(bad.error, '') : []).join('\n');
    assert.match(messages, /^url: must be an http\(s\) URL or a secret reference/m);
    assert.match(messages, /^headers\.authorization: not a valid secret reference: unknown secret source "aws"/m);
    assert.match(messages, /^headers\.bad name: Invalid key/m);
    assert.match(messages, /^headers\.x-split: must be one line/m);
    const many = Object.fromEntries(Array.from({ length: 33 }, (_, index) => [`x-${index}`, 'v']));
    assert.equal(NotifyChannel.safeParse({ type: 'webhook', url: base, headers: many }).success, false, 'at most 32 headers');
  });

  it('sends a webhook header resolved from Vault, and reports an unreachable or unconfigured Vault without the value', async () => {
    const saved = { VAULT_ADDR: process.env.VAULT_ADDR, VAULT_TOKEN: process.env.VAULT_TOKEN };
    process.env.VAULT_ADDR = vault.address;
    process.env.VAULT_TOKEN = vault.token;
    try {
      const { notify } = createNotifyActivities({ timeoutMs: 5000 });
      const sent = await notify(request({ type: 'webhook', url: `${base}/hook`, headers: { authorization: 'secret://vault/kv/hooks#token' } }));
      assert.deepEqual(sent, { sent: 1, failed: [] });
      assert.equal(received.at(-1)?.authorization, VALUE);

      // A resolved value that would split the request is refused by the HTTP client, and the report is redacted.
      const split = await notify(request({ type: 'webhook', url: `${base}/hook`, headers: { authorization: 'secret://vault/kv/hooks#broken' } }));
      assert.equal(split.sent, 0);
      assert.ok(!split.failed.join('').includes('line one'), split.failed.join(''));
      assert.ok(!received.some((headers) => headers['x-injected'] !== undefined));

      vault.sealFor(1);
      const sealed = await notify(request({ type: 'webhook', url: `${base}/hook`, headers: { authorization: 'secret://vault/kv/hooks#token' } }));
      assert.equal(sealed.sent, 0);
      assert.match(sealed.failed[0] ?? '', /^webhook: secret:\/\/vault\/kv\/hooks#token: HTTP 503 \(Vault is sealed\)/);

      delete process.env.VAULT_ADDR;
      const unset = await notify(request({ type: 'webhook', url: `${base}/hook`, headers: { authorization: 'secret://vault/kv/hooks#token' } }));
      assert.match(unset.failed[0] ?? '', /VAULT_ADDR is not set/);
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('asks Vault for the path written, never another endpoint, whatever characters the path holds', async () => {
    vault.secrets['kv/a'] = { k: 'the-wrong-secret' };
    const env = { VAULT_ADDR: vault.address, VAULT_TOKEN: vault.token };
    for (const ref of ['secret://vault/kv/a?x=1#k', 'secret://vault/kv/a#frag#k', 'secret://vault/kv/a;b#k']) {
      const outcome = await resolveSecretRefsAt({ v: ref }, [{ path: ['v'], ref }], env).then(
        (resolved) => resolved.value.v,
        (error: Error) => error.message,
      );
      assert.notEqual(outcome, 'the-wrong-secret', `${ref} read secret kv/a`);
    }
  });
});
