import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildApiServer } from '../api/server';
import { listAudit } from '../client/audit';
import { addUser, issueToken, type IdentityStore } from '../client/identity';
import { approveException, readPolicies, recordExceptions, setPolicy, type PendingException, type PolicyStore } from '../client/repo-policy';
import { createLogger } from '../config/logger';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { apiRequest } from './support/api-request';
import { qubinodeFromSource } from './support/cli';
import { startTestEngine, type TestEngine } from './support/engine';
import { until } from './support/waiting';

const BOOTSTRAP = 'policy-test-bootstrap-token-0123456789';

describe('repository policy through the API and the CLI (real Temporal)', () => {
  let engine: TestEngine;
  let store: PolicyStore;
  let app: ReturnType<typeof buildApiServer>;
  let base: string;
  const tokens: Record<string, string> = {};
  const since = new Date();
  const dir = mkdtempSync(path.join(tmpdir(), 'qubinode-policy-cli-'));
  const policyId = `policy/test-${randomUUID()}`;
  const call = (method: string, url: string, token: string | null, body?: unknown): Promise<Response> => apiRequest(base, method, url, token, body);

  before(async () => {
    engine = await startTestEngine();
    const config = { ...engine.config, taskQueue: engine.taskQueue, identity: { workflowId: `identity/test-${randomUUID()}` }, policy: { workflowId: policyId } };
    store = { client: engine.client, workflowId: policyId, taskQueue: engine.taskQueue };
    const identities: IdentityStore = { client: engine.client, workflowId: config.identity.workflowId, taskQueue: engine.taskQueue };
    for (const [user, role] of [['vic', 'viewer'], ['olga', 'operator'], ['carol', 'approver'], ['dave', 'approver']] as const) {
      await addUser(identities, user, [role]);
      tokens[user] = (await issueToken(identities, { user, lifetime: '1h' })).token;
    }
    app = buildApiServer({ config, logger: createLogger('error', 'policy-test'), client: engine.client, registry: new ActionRegistry(), token: BOOTSTRAP });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await app.close();
    // The policy store of this suite would otherwise outlive it, on a queue nobody polls.
    await engine.client.workflow.getHandle(policyId).terminate('test done').catch(() => undefined);
    await engine.close();
  });

  it('lets no stranger or viewer read policies and no one but an admin set them, recording the refusal', async () => {
    assert.equal((await call('GET', '/api/policies', null)).status, 401);
    assert.equal((await call('GET', '/api/policies', tokens.vic ?? '')).status, 403);
    assert.equal((await call('GET', '/api/policies/infra', tokens.olga ?? '')).status, 200);
    const denied = await call('PUT', '/api/policies/infra', tokens.olga ?? '', { policy: { shell: true } });
    assert.equal(denied.status, 403);
    assert.equal((await call('PUT', '/api/policies/infra', tokens.carol ?? '', { policy: { shell: true } })).status, 403);
    assert.equal((await readPolicies(store)).repos.infra, undefined);
    await until(async () => (await listAudit(engine.client, { since, user: 'olga', action: 'policy.set' })).some((entry) => entry.outcome === 'refused'), 15_000, "olga's refused policy.set in the audit trail");
  });

  it('sets a policy as an admin, audited under the admin, and refuses unknown fields, oversized lists and bad repository names', async () => {
    const set = await call('PUT', '/api/policies/infra', BOOTSTRAP, { policy: { actions: ['noop', 'diag.*'], shell: false, hosts: { labels: ['env=lab'] } } });
    assert.equal(set.status, 200, await set.clone().text());
    assert.equal(((await set.json()) as { setBy: string }).setBy, 'bootstrap-admin');
    const shown = (await (await call('GET', '/api/policies/infra', tokens.olga ?? '')).json()) as { source: string; policy: { actions: string[] } };
    assert.equal(shown.source, 'repo');
    assert.deepEqual(shown.policy.actions, ['noop', 'diag.*']);

    const unknown = await call('PUT', '/api/policies/infra', BOOTSTRAP, { policy: { shell: true, allowEverything: true } });
    assert.equal(unknown.status, 400);
    assert.match(JSON.stringify(await unknown.json()), /allowEverything/);
    assert.equal((await call('PUT', '/api/policies/infra', BOOTSTRAP, { policy: { actions: Array.from({ length: 500 }, (_, index) => `a${index}`) } })).status, 400);
    let nested: unknown = { shell: true };
    for (let depth = 0; depth < 2000; depth += 1) nested = { hosts: nested };
    assert.equal((await call('PUT', '/api/policies/infra', BOOTSTRAP, { policy: nested })).status, 400);
    for (const name of ['..%2F..%2Fetc', '%2E%2E', 'a%0Ab', `${'x'.repeat(80)}`]) {
      const response = await call('PUT', `/api/policies/${name}`, BOOTSTRAP, { policy: { shell: true } });
      assert.ok([400, 404].includes(response.status), `${name}: ${response.status}`);
    }
    assert.deepEqual(Object.keys((await readPolicies(store)).repos), ['infra']);
    // `*` is the default policy, for repositories without their own.
    assert.equal((await call('PUT', '/api/policies/%2A', BOOTSTRAP, { policy: { shell: false } })).status, 200);
    assert.equal(((await (await call('GET', '/api/policies/other', tokens.olga ?? '')).json()) as { source: string }).source, 'default');
    await until(async () => (await listAudit(engine.client, { since, user: 'bootstrap-admin', action: 'policy.set' })).some((entry) => entry.target === 'policy/infra' && entry.outcome === 'ok'), 15_000, 'the policy.set entry');
  });

  it('refuses an exception approval by the commit\'s author and accepts another approver\'s', async () => {
    const id = randomUUID().replace(/-/g, '').slice(0, 24);
    await recordExceptions(store, [{ id, repo: 'infra', file: 'dags/x.yaml', task: 'wipe', rule: 'dangerous-command', reason: 'lab disks are disposable', commit: 'b'.repeat(40), author: { name: 'Carol Smith', email: 'carol@example.org' } }]);
    const own = await call('POST', '/api/policy-exceptions', tokens.carol ?? '', { id });
    assert.equal(own.status, 403);
    assert.match(((await own.json()) as { error: string }).error, /carol wrote commit bbbbbbbbbbbb \(Carol Smith <carol@example\.org>\); its securityAllow needs an approver other than its author/);
    assert.equal((await call('POST', '/api/policy-exceptions', tokens.olga ?? '', { id })).status, 403, 'an operator is not an approver');
    const approved = await call('POST', '/api/policy-exceptions', tokens.dave ?? '', { id });
    assert.equal(approved.status, 200);
    assert.equal(((await approved.json()) as { approvedBy: string }).approvedBy, 'dave');
    assert.equal((await call('POST', '/api/policy-exceptions', tokens.dave ?? '', { id: '../../x' })).status, 400);
  });

  it('keeps approved exceptions when a repository floods the list with pending ones, and keeps everything across continue-as-new', async () => {
    const small: PolicyStore = { client: engine.client, workflowId: `policy/test-small-${randomUUID()}`, taskQueue: engine.taskQueue };
    const started = await engine.client.workflow.start('repoPolicyStore', { workflowId: small.workflowId, taskQueue: engine.taskQueue, args: [{ changesPerHistory: 3 }] });
    const exception = (id: string, repo: string): PendingException => ({ id, repo, file: 'dags/x.yaml', task: 't', rule: 'dangerous-command', reason: 'flood', commit: 'c'.repeat(40), author: { name: 'M', email: 'm@example.org' } });
    const kept = 'a'.repeat(24);
    await recordExceptions(small, [exception(kept, 'infra')]);
    await approveException(small, { id: kept, by: 'dave' });
    await setPolicy(small, 'infra', { shell: false }, 'admin');
    for (let batch = 0; batch < 11; batch += 1) {
      await recordExceptions(small, Array.from({ length: 200 }, (_, index) => exception((batch * 1000 + index).toString(16).padStart(24, '0'), 'flood')));
    }
    await assert.rejects(recordExceptions(small, Array.from({ length: 201 }, (_, index) => exception(index.toString(16).padStart(24, 'f'), 'flood'))), /at most 200 exceptions per sync/);
    const state = await readPolicies(small);
    assert.equal(state.exceptions.length, 2000);
    assert.equal(state.exceptions.find((entry) => entry.id === kept)?.state, 'approved');
    assert.equal(state.repos.infra?.policy.shell, false, 'the policy survived continue-as-new');
    await until(async () => (await engine.client.workflow.getHandle(small.workflowId).describe()).runId !== started.firstExecutionRunId, 20_000, 'continue-as-new');
    await engine.client.workflow.getHandle(small.workflowId).terminate('test done');
  });

  it('sets and shows a policy from the CLI, and refuses a bad repository name or an oversized file before calling anyone', async () => {
    const env = { QUBINODE_POLICY_WORKFLOW_ID: policyId, QUBINODE_TASK_QUEUE: engine.taskQueue, TEMPORAL_ADDRESS: engine.config.temporal.address };
    const file = path.join(dir, 'policy.yaml');
    writeFileSync(file, 'actions: [noop, shell]\nshell: true\nhosts: { queues: [hv1, hv2] }\napproveNewVersionsOn: [env=production]\n');
    const set = await qubinodeFromSource(['policy', 'set', 'lab', '--file', file], env);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /host queues: hv1, hv2/);
    const shown = await qubinodeFromSource(['policy', 'show', 'lab', '--json'], env);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual((JSON.parse(shown.stdout) as { policy: unknown }).policy, { actions: ['noop', 'shell'], shell: true, hosts: { queues: ['hv1', 'hv2'] }, approveNewVersionsOn: ['env=production'] });
    // Straight to Temporal, the CLI records the change as the OS user, via local.
    await until(async () => (await listAudit(engine.client, { since, action: 'policy.set' })).some((entry) => entry.target === 'policy/lab' && entry.via === 'local' && entry.outcome === 'ok'), 15_000, 'the CLI policy.set entry');

    const escape = await qubinodeFromSource(['policy', 'set', '../lab', '--file', file], env);
    assert.equal(escape.code, 2);
    const big = path.join(dir, 'big.yaml');
    writeFileSync(big, `actions: [${'"a",'.repeat(20_000)}"b"]\n`);
    const oversized = await qubinodeFromSource(['policy', 'set', 'lab', '--file', big], env);
    assert.equal(oversized.code, 2);
    assert.match(oversized.stderr, /at most 65536/);
  });

  it('refuses a viewer\'s policy set through the API from the CLI', async () => {
    const file = path.join(dir, 'viewer.yaml');
    writeFileSync(file, 'shell: true\n');
    const result = await qubinodeFromSource(['policy', 'set', 'infra', '--file', file], { QUBINODE_API_URL: base, QUBINODE_API_TOKEN: tokens.vic ?? '' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /403|admin/);
    assert.equal((await readPolicies(store)).repos.infra?.policy.shell, false);
  });
});
