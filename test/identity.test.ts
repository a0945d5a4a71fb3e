import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { authenticate, AuthenticationError } from '../api/auth';
import { IdentityCache, IdentityUnavailableError } from '../api/identity-cache';
import { buildApiServer } from '../api/server';
import { listAudit } from '../client/audit';
import { addUser, IdentityError, issueToken, readIdentity, removeUser, revokeToken, setUserDisabled, setUserRoles, tokenHash, type IdentityState, type IdentityStore } from '../client/identity';
import { createLogger } from '../config/logger';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { apiRequest } from './support/api-request';
import { qubinodeFromSource } from './support/cli';
import { startTestEngine, type TestEngine } from './support/engine';
import { until } from './support/waiting';

const BOOTSTRAP = 'identity-test-bootstrap-token-0123456789';

describe('identities: users, personal tokens and the bootstrap token', () => {
  let engine: TestEngine;
  let store: IdentityStore;
  let app: ReturnType<typeof buildApiServer>;
  let base: string;
  const whoami = async (token: string): Promise<{ status: number; body: unknown }> => {
    const response = await fetch(`${base}/api/whoami`, { headers: { authorization: `Bearer ${token}` } });
    return { status: response.status, body: await response.json() };
  };
  const call = (method: string, url: string, token: string, body?: unknown): Promise<Response> => apiRequest(base, method, url, token, body);

  before(async () => {
    engine = await startTestEngine();
    const config = { ...engine.config, taskQueue: engine.taskQueue, identity: { workflowId: `identity/test-${randomUUID()}` } };
    store = { client: engine.client, workflowId: config.identity.workflowId, taskQueue: engine.taskQueue };
    app = buildApiServer({ config, logger: createLogger('error', 'identity-test'), client: engine.client, registry: new ActionRegistry(), token: BOOTSTRAP });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await app.close();
    await engine.close();
  });

  it('issues a token shown once and kept only as its hash, never in the workflow history', async () => {
    await addUser(store, 'hash-user', ['viewer']);
    const { token, record } = await issueToken(store, { user: 'hash-user', lifetime: '30d', description: 'laptop' });
    assert.match(token, /^qnt_[A-Za-z0-9_-]{43}$/);
    assert.equal(record.hash, tokenHash(token));
    const days = (Date.parse(record.expires) - Date.now()) / 86_400_000;
    assert.ok(days > 29.9 && days <= 30, `expiry ${record.expires} is 30 days out`);
    const secret = token.slice(4);
    assert.ok(!JSON.stringify(await readIdentity(store)).includes(secret));
    const history = await engine.client.workflow.getHandle(store.workflowId).fetchHistory();
    assert.ok(!JSON.stringify(history).includes(secret), 'the token itself reached the workflow history');
  });

  it('authenticates a personal token as its user with their roles, and the shared token as bootstrap-admin', async () => {
    await addUser(store, 'carol', ['operator', 'approver']);
    const { token } = await issueToken(store, { user: 'carol', lifetime: '1h' });
    assert.deepEqual(await whoami(token), { status: 200, body: { user: 'carol', roles: ['operator', 'approver'], via: 'token' } });
    assert.deepEqual(await whoami(BOOTSTRAP), { status: 200, body: { user: 'bootstrap-admin', roles: ['admin'], via: 'bootstrap' } });
    assert.equal((await whoami(`${token}x`)).status, 401);
    assert.equal((await whoami(`qnt_${'A'.repeat(43)}`)).status, 401);
  });

  it('refuses a revoked token on the running API within seconds', async () => {
    await addUser(store, 'dave', ['viewer']);
    const { token, record } = await issueToken(store, { user: 'dave', lifetime: '1h' });
    assert.equal((await whoami(token)).status, 200);
    await revokeToken(store, record.id);
    await until(async () => (await whoami(token)).status === 401, 10_000, 'the revoked token to be refused');
    await assert.rejects(revokeToken(store, record.id), (error: Error) => error instanceof IdentityError && /already revoked/.test(error.message));
  });

  it('applies a role change on the running API within seconds', async () => {
    await addUser(store, 'erin', ['viewer']);
    const { token } = await issueToken(store, { user: 'erin', lifetime: '1h' });
    assert.equal((await call('GET', '/api/users', token)).status, 403);
    await setUserRoles(store, 'erin', ['admin']);
    await until(async () => (await call('GET', '/api/users', token)).status === 200, 10_000, 'the new role to take effect');
  });

  it("refuses a disabled or removed user's tokens", async () => {
    await addUser(store, 'frank', ['viewer']);
    const first = await issueToken(store, { user: 'frank', lifetime: '1h' });
    const second = await issueToken(store, { user: 'frank', lifetime: '2h' });
    await setUserDisabled(store, 'frank', true);
    await until(async () => (await whoami(first.token)).status === 401, 10_000, 'the disabled user to be refused');
    await assert.rejects(issueToken(store, { user: 'frank' }), /user "frank" is disabled/);
    await setUserDisabled(store, 'frank', false);
    await until(async () => (await whoami(first.token)).status === 200, 10_000, 'the enabled user to be accepted');
    const removed = await removeUser(store, 'frank');
    assert.deepEqual(removed.revokedTokens.sort(), [first.record.id, second.record.id].sort());
    await until(async () => (await whoami(second.token)).status === 401, 10_000, "the removed user's token to be refused");
  });

  it('refuses hostile or malformed users, roles, lifetimes and token records in the store itself', async () => {
    for (const name of ['', '../etc/passwd', 'a b', 'eve\n', 'bootstrap-admin', 'x'.repeat(65), '<script>', 'al\u202eice', '-leading']) {
      await assert.rejects(addUser(store, name, ['viewer']), IdentityError, `user name ${JSON.stringify(name)} was accepted`);
    }
    await assert.rejects(addUser(store, 'gina', []), /at least one role/);
    await assert.rejects(addUser(store, 'gina', ['root']), IdentityError);
    await addUser(store, 'gina', ['viewer']);
    await assert.rejects(addUser(store, 'gina', ['admin']), /already exists/);
    await assert.rejects(setUserRoles(store, 'nobody', ['admin']), /no user "nobody"/);
    await assert.rejects(issueToken(store, { user: 'nobody' }), /no user "nobody"/);
    for (const lifetime of ['367d', '0d', '-1d', 'forever', '1y', '10000d']) await assert.rejects(issueToken(store, { user: 'gina', lifetime }), IdentityError, `lifetime ${lifetime} was accepted`);
    await assert.rejects(issueToken(store, { user: 'gina', description: 'd'.repeat(201) }), IdentityError);
    await assert.rejects(revokeToken(store, '../../x'), /token id/);
    // Straight to the workflow, past the client: the validators hold on their own.
    const handle = engine.client.workflow.getHandle(store.workflowId);
    const refusedWith = (update: Promise<unknown>, reason: RegExp) => assert.rejects(update, (error: Error) => reason.test(String((error.cause as Error | undefined)?.message)));
    const direct = (arg: unknown) => handle.executeUpdate('issueToken', { args: [arg] });
    const good = { id: '0123456789abcdef', user: 'gina', hash: 'a'.repeat(64), expires: new Date(Date.now() + 3_600_000).toISOString() };
    await refusedWith(direct({ ...good, expires: new Date(Date.now() - 1000).toISOString() }), /in the future/);
    await refusedWith(direct({ ...good, expires: new Date(Date.now() + 400 * 86_400_000).toISOString() }), /366 days/);
    await refusedWith(direct({ ...good, hash: 'not-a-hash' }), /hexadecimal/);
    await refusedWith(direct({ ...good, token: 'qnt_plaintext' }), /nrecognized key/);
    await refusedWith(handle.executeUpdate('putUser', { args: [{ mode: 'add', name: 'h'.repeat(10_000), roles: ['admin'] }] }), /user name/);
    assert.ok(!(await readIdentity(store)).users.some((user) => user.name.startsWith('hh')));
  });

  it('continues as new and keeps its users and tokens', async () => {
    const small: IdentityStore = { ...store, workflowId: `identity/test-${randomUUID()}` };
    const first = await engine.client.workflow.start('identityStore', { workflowId: small.workflowId, taskQueue: small.taskQueue, args: [{ changesPerHistory: 3 }] });
    await addUser(small, 'ivan', ['viewer']);
    const { record } = await issueToken(small, { user: 'ivan', lifetime: '1h' });
    await setUserRoles(small, 'ivan', ['operator']);
    await until(async () => (await engine.client.workflow.getHandle(small.workflowId).describe()).runId !== first.firstExecutionRunId, 20_000, 'continue-as-new');
    await addUser(small, 'judy', ['admin']);
    const state = await readIdentity(small);
    assert.deepEqual(state.users.map((user) => [user.name, user.roles]), [['ivan', ['operator']], ['judy', ['admin']]]);
    assert.deepEqual(state.tokens.map((token) => token.id), [record.id]);
    await engine.client.workflow.getHandle(small.workflowId).terminate('test done');
  });

  it('manages users and tokens from the CLI, printing a token once and never listing it', async () => {
    const env = { QUBINODE_IDENTITY_WORKFLOW_ID: store.workflowId, QUBINODE_TASK_QUEUE: engine.taskQueue, TEMPORAL_ADDRESS: engine.config.temporal.address };
    const added = await qubinodeFromSource(['user', 'add', 'kim', 'operator,approver'], env);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /added kim \(operator, approver\)/);
    const issued = await qubinodeFromSource(['token', 'issue', '--user', 'kim', '--expires', '7d', '--description', 'ci', '--json'], env);
    assert.equal(issued.code, 0, issued.stderr);
    const { token, id } = JSON.parse(issued.stdout) as { token: string; id: string; hash?: string };
    assert.equal((JSON.parse(issued.stdout) as { hash?: string }).hash, undefined);
    assert.deepEqual((await whoami(token)).body, { user: 'kim', roles: ['operator', 'approver'], via: 'token' });
    const listed = await qubinodeFromSource(['token', 'list', '--user', 'kim'], env);
    assert.match(listed.stdout, new RegExp(`${id}\\s+kim\\s+live`));
    assert.ok(!listed.stdout.includes(token.slice(4)) && !listed.stdout.includes(tokenHash(token)));
    const revoked = await qubinodeFromSource(['token', 'revoke', id], env);
    assert.equal(revoked.code, 0, revoked.stderr);
    await until(async () => (await whoami(token)).status === 401, 10_000, 'the token revoked by the CLI to be refused');
  });

  it('lets an admin manage users and tokens over HTTP, answering no hashes and recording each change in the audit trail', async () => {
    const since = new Date();
    assert.equal((await call('POST', '/api/users', BOOTSTRAP, { name: 'mia', roles: ['approver'] })).status, 201);
    assert.equal((await call('POST', '/api/users', BOOTSTRAP, { name: 'mia', roles: ['approver'] })).status, 409);
    assert.equal((await call('POST', '/api/users', BOOTSTRAP, { name: 'x\ny', roles: ['approver'] })).status, 400);
    const issued = await call('POST', '/api/tokens', BOOTSTRAP, { user: 'mia', expires: '1d', description: 'phone' });
    assert.equal(issued.status, 201);
    const { token, id, hash } = (await issued.json()) as { token: string; id: string; hash?: string };
    assert.equal(hash, undefined);
    assert.equal((await whoami(token)).status, 200);
    const listed = await (await call('GET', '/api/tokens?user=mia', BOOTSTRAP)).text();
    assert.ok(listed.includes(id) && !listed.includes(tokenHash(token)) && !listed.includes(token));
    assert.equal((await call('DELETE', `/api/tokens/${id}`, BOOTSTRAP)).status, 200);
    assert.equal((await call('DELETE', `/api/tokens/${id}`, BOOTSTRAP)).status, 409);
    assert.equal((await call('PATCH', '/api/users/mia', BOOTSTRAP, { roles: ['viewer'] })).status, 200);
    assert.equal((await call('DELETE', '/api/users/mia', BOOTSTRAP)).status, 200);
    assert.equal((await call('DELETE', '/api/users/mia', BOOTSTRAP)).status, 404);
    await until(
      async () => {
        const entries = await listAudit(engine.client, { since, user: 'bootstrap-admin', limit: 1000 });
        const mine = entries.filter((entry) => entry.target === 'user/mia' || entry.target === `token/${id}`);
        return ['user.add:ok', 'user.add:refused', 'token.issue:ok', 'token.revoke:ok', 'token.revoke:refused', 'user.change:ok', 'user.remove:ok', 'user.remove:refused'].every((want) => mine.some((entry) => `${entry.action}:${entry.outcome}` === want));
      },
      20_000,
      'every user and token change to be in the audit trail',
    );
  });
});

describe('bearer token checks', () => {
  const state = (tokens: IdentityState['tokens'], disabled = false): IdentityState => ({ users: [{ name: 'nina', roles: ['viewer'], disabled, created: '2026-01-01T00:00:00Z' }], tokens });
  const token = `qnt_${'b'.repeat(43)}`;
  const record = { id: 'aaaaaaaaaaaaaaaa', user: 'nina', hash: tokenHash(token), created: '2026-01-01T00:00:00Z' };

  it('refuses an expired personal token', async () => {
    const identities = new IdentityCache(async () => state([{ ...record, expires: new Date(Date.now() - 1000).toISOString() }]));
    await assert.rejects(authenticate({ bootstrapToken: 'x'.repeat(32), identities }, `Bearer ${token}`, '127.0.0.1'), (error: Error) => error instanceof AuthenticationError && /expired/.test(error.message));
    const live = new IdentityCache(async () => state([{ ...record, expires: new Date(Date.now() + 60_000).toISOString() }]));
    assert.equal((await authenticate({ bootstrapToken: 'x'.repeat(32), identities: live }, `Bearer ${token}`, '127.0.0.1')).user, 'nina');
  });

  it('never takes a personal-token look-alike or a missing header for the bootstrap token', async () => {
    const identities = new IdentityCache(async () => state([]));
    for (const header of [undefined, '', 'Bearer', 'Basic abc', `Bearer ${'x'.repeat(32)} extra`, `bearer ${'y'.repeat(32)}`]) {
      await assert.rejects(authenticate({ bootstrapToken: 'x'.repeat(32), identities }, header, '127.0.0.1'), AuthenticationError, String(header));
    }
    // A bootstrap token that happens to start like a personal token is still only looked up as one.
    await assert.rejects(authenticate({ bootstrapToken: token, identities }, `Bearer ${token}`, '127.0.0.1'), AuthenticationError);
  });

  it('finds a token issued right after another unknown token was looked up, reading the store at most every 250 ms', async () => {
    let records: IdentityState['tokens'] = [];
    let reads = 0;
    const identities = new IdentityCache(async () => {
      reads += 1;
      return state(records);
    });
    await identities.get(0);
    records = [{ ...record, expires: new Date(Date.now() + 60_000).toISOString() }];
    const lookups = await Promise.all(Array.from({ length: 20 }, () => identities.get(0)));
    assert.ok(lookups.every((found) => found.tokensByHash.has(record.hash)), 'a look-up made after the token was issued must see it');
    assert.equal(reads, 2, 'twenty look-ups at once share one read');
  });

  it('serves the last copy of the identities briefly when the store cannot be read, then refuses personal tokens', async () => {
    let now = 0;
    let failing = false;
    const identities = new IdentityCache(
      async () => {
        if (failing) throw new Error('Temporal unavailable');
        return state([{ ...record, expires: new Date(Date.now() + 60_000).toISOString() }]);
      },
      2000,
      60_000,
      () => now,
    );
    await identities.get();
    failing = true;
    now = 30_000;
    assert.equal((await identities.get()).usersByName.get('nina')?.name, 'nina');
    now = 61_000;
    await assert.rejects(identities.get(), IdentityUnavailableError);
  });
});
