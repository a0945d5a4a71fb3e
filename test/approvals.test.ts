import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { buildApiServer } from '../api/server';
import { addUser, issueToken } from '../client/identity';
import { createLogger } from '../config/logger';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { ApprovalRefusedError, decideApproval } from '../client/run-control';
import { listRuns } from '../client/runs';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';
import { taskOf, until, untilTaskState } from './support/waiting';

// Waiting is real here: TestWorkflowEnvironment.createTimeSkipping() downloads a test-server binary
// from the internet, which this machine cannot reach, so the timeout cases use the real dev server
// with timeouts of two seconds instead of skipped time.

const gateDag = (extra = ''): string => `
id: gated
tasks:
  - id: gate
    uses: approval
    with:
      message: Ship it?
      approvers: [alice, bob]
${extra}
  - id: after
    uses: noop
    needs: gate
    with:
      by: \${{ tasks.gate.outputs.by }}
`;

describe('approval gates', { concurrency: true }, () => {
  let engine: TestEngine;
  let api: ReturnType<typeof buildApiServer>;
  let base: string;
  const TOKEN = 'approvals-test-token-0123456789';
  const tokens = { bob: '', mallory: '' };
  const post = (url: string, body: unknown, token = TOKEN): Promise<Response> => fetch(`${base}${url}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  before(async () => {
    engine = await startTestEngine();
    const config = { ...engine.config, taskQueue: engine.taskQueue, identity: { workflowId: `identity/test-${randomUUID()}` } };
    api = buildApiServer({ config, logger: createLogger('error', 'approvals-test'), client: engine.client, registry: new ActionRegistry(), token: TOKEN });
    // Approvers call the API with their own tokens: the gate sees who they are, not a name they claim.
    const store = { client: engine.client, workflowId: config.identity.workflowId, taskQueue: engine.taskQueue };
    for (const name of ['bob', 'mallory'] as const) {
      await addUser(store, name, ['approver']);
      tokens[name] = (await issueToken(store, { user: name, lifetime: '1h' })).token;
    }
    await api.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await api.close();
    await engine.close();
  });

  it('waits, shows the run as waiting, refuses an unauthorised approver, then goes on when approved', async () => {
    const runId = await engine.start(engine.compile(gateDag()));
    const waiting = await untilTaskState(engine.client, runId, 'gate', 'waiting');
    assert.equal(waiting.approvals?.[0]?.state, 'waiting');
    assert.deepEqual(waiting.approvals?.[0]?.approvers, ['alice', 'bob']);
    await until(async () => (await listRuns(engine.client, { status: 'waiting', limit: 500 })).some((run) => run.runId === runId), 15_000, 'the run to be listed as waiting');

    await assert.rejects(decideApproval(engine.client, runId, { taskId: 'gate', approve: true, by: 'mallory' }), (error: Error) => {
      assert.ok(error instanceof ApprovalRefusedError);
      assert.match(error.message, /"mallory" is not an approver of task "gate"/);
      assert.doesNotMatch(error.message, /alice|bob/, 'a refusal does not reveal who may approve');
      return true;
    });
    await assert.rejects(decideApproval(engine.client, runId, { taskId: 'gate', approve: false, by: 'alice' }), /rejecting task "gate" needs a comment/);
    const record = await decideApproval(engine.client, runId, { taskId: 'gate', approve: true, by: 'alice', comment: 'canary looked fine' });
    assert.equal(record.state, 'approved');

    const status = await engine.wait(runId);
    assert.equal(status.state, 'succeeded');
    assert.deepEqual(taskOf(status, 'after').outputs, { by: 'alice' });
    assert.equal(status.approvals?.[0]?.by, 'alice');
    assert.equal(status.approvals?.[0]?.comment, 'canary looked fine');
    const memo = (await engine.client.workflow.getHandle(runId).describe()).memo as { approvals?: { by?: string; state?: string }[] };
    assert.deepEqual(memo.approvals?.map((entry) => [entry.state, entry.by]), [['approved', 'alice']]);
  });

  it('records who decided and for whom when someone decides for an approver, and checks the approver, not the decider', async () => {
    const runId = await engine.start(engine.compile(gateDag()));
    await untilTaskState(engine.client, runId, 'gate', 'waiting');
    await assert.rejects(decideApproval(engine.client, runId, { taskId: 'gate', approve: true, by: 'alice', onBehalfOf: 'mallory' }), /"mallory" is not an approver of task "gate"/);
    const record = await decideApproval(engine.client, runId, { taskId: 'gate', approve: true, by: 'root', onBehalfOf: 'bob', comment: 'bob is on a plane' });
    assert.deepEqual([record.by, record.onBehalfOf], ['root', 'bob']);
    const status = await engine.wait(runId);
    assert.equal(status.state, 'succeeded');
    assert.deepEqual([status.approvals?.[0]?.by, status.approvals?.[0]?.onBehalfOf], ['root', 'bob']);
    assert.equal(taskOf(status, 'gate').summary, 'approved by root for bob: bob is on a plane');
    const memo = (await engine.client.workflow.getHandle(runId).describe()).memo as { approvals?: { by?: string; onBehalfOf?: string }[] };
    assert.deepEqual(memo.approvals?.map((entry) => [entry.by, entry.onBehalfOf]), [['root', 'bob']]);
  });

  it('refuses a decider or approver name with a newline or invisible characters', async () => {
    const runId = await engine.start(engine.compile(gateDag()));
    await untilTaskState(engine.client, runId, 'gate', 'waiting');
    await assert.rejects(decideApproval(engine.client, runId, { taskId: 'gate', approve: true, by: 'alice\napproved by bob' }), /plain one-line name/);
    await assert.rejects(decideApproval(engine.client, runId, { taskId: 'gate', approve: true, by: 'root', onBehalfOf: 'bob\u200b' }), /plain one-line name/);
    await assert.rejects(decideApproval(engine.client, runId, { taskId: 'gate', approve: true, by: ' alice' }), /plain one-line name/);
    const record = await decideApproval(engine.client, runId, { taskId: 'gate', approve: true, by: 'alice' });
    assert.equal(record.by, 'alice');
    assert.equal((await engine.wait(runId)).state, 'succeeded');
  });

  it('fails the gate with the reason when rejected, through the Web UI signal form', async () => {
    const runId = await engine.start(engine.compile(gateDag()));
    await untilTaskState(engine.client, runId, 'gate', 'waiting');
    // An unauthorised signal is ignored (signals cannot be refused), the authorised one decides.
    await engine.client.workflow.getHandle(runId).signal('approval', { taskId: 'gate', approve: true, by: 'mallory' });
    await engine.client.workflow.getHandle(runId).signal('approval', { taskId: 'gate', approve: false, by: 'bob', comment: 'change freeze' });
    const status = await engine.wait(runId);
    assert.equal(status.state, 'failed');
    assert.deepEqual(taskStates(status), { gate: 'failed', after: 'skipped' });
    assert.equal(taskOf(status, 'gate').error?.type, 'ApprovalRejected');
    assert.match(taskOf(status, 'gate').error?.message ?? '', /rejected by bob: change freeze/);
    assert.deepEqual(status.approvals?.map((entry) => [entry.state, entry.by, entry.comment]), [['rejected', 'bob', 'change freeze']]);
  });

  it('takes decisions over the HTTP API as the authenticated caller, refusing an unauthorised approver with 403 without naming the approvers', async () => {
    const runId = await engine.start(engine.compile(gateDag()));
    await untilTaskState(engine.client, runId, 'gate', 'waiting');
    const waiting = (await (await fetch(`${base}/api/approvals`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { runId: string }[];
    assert.ok(Array.isArray(waiting));
    // The shared token is the bootstrap admin: it decides for an approver, never as a claimed name.
    assert.equal((await post('/api/approvals', { run: runId, task: 'gate', decision: 'approve', by: 'bob' })).status, 400, 'a claimed name is not accepted');
    const refused = await post('/api/approvals', { run: runId, task: 'gate', decision: 'approve', onBehalfOf: 'mallory' });
    assert.equal(refused.status, 403);
    const refusal = ((await refused.json()) as { error: string }).error;
    assert.match(refusal, /"mallory" is not an approver of task "gate"/);
    assert.doesNotMatch(refusal, /alice|bob/);
    assert.equal((await post('/api/approvals', { run: runId, task: 'gate', decision: 'maybe', onBehalfOf: 'bob' })).status, 400);
    const decided = await post('/api/approvals', { run: runId, task: 'gate', decision: 'approve', onBehalfOf: 'bob', comment: 'via API' });
    assert.equal(decided.status, 200);
    const record = (await decided.json()) as { state: string; by: string; onBehalfOf?: string };
    assert.deepEqual([record.state, record.by, record.onBehalfOf], ['approved', 'bootstrap-admin', 'bob']);
    assert.equal((await engine.wait(runId)).state, 'succeeded');
    assert.equal((await post('/api/aborts', { run: runId })).status, 404, 'a finished run cannot be aborted');
  });

  it('decides as the holder of a personal token: a non-approver is refused without learning the approvers, and only admins act for others', async () => {
    const runId = await engine.start(engine.compile(gateDag()));
    await untilTaskState(engine.client, runId, 'gate', 'waiting');
    assert.equal((await post('/api/approvals', { run: runId, task: 'gate', decision: 'approve', by: 'bob' }, tokens.mallory)).status, 400, 'a claimed name is not accepted');
    const refused = await post('/api/approvals', { run: runId, task: 'gate', decision: 'approve' }, tokens.mallory);
    assert.equal(refused.status, 403);
    const refusal = JSON.stringify(await refused.json());
    assert.match(refusal, /mallory/);
    assert.doesNotMatch(refusal, /alice|bob|approvers/);
    assert.equal((await post('/api/approvals', { run: runId, task: 'gate', decision: 'approve', onBehalfOf: 'bob' }, tokens.mallory)).status, 403, 'only an admin may act for someone else');
    const decided = await post('/api/approvals', { run: runId, task: 'gate', decision: 'approve', comment: 'mine to give' }, tokens.bob);
    assert.equal(decided.status, 200);
    const record = (await decided.json()) as { by: string; onBehalfOf?: string };
    assert.deepEqual([record.by, record.onBehalfOf], ['bob', undefined]);
    assert.equal((await engine.wait(runId)).state, 'succeeded');
    assert.equal((await post('/api/aborts', { run: runId }, tokens.bob)).status, 403, 'an approver is not an operator');
  });

  it('decides by the default outcome when nobody answers in time', async () => {
    const [rejected, approved] = await Promise.all([
      engine.run(engine.compile(gateDag('      timeout: 2s'))),
      engine.run(engine.compile(gateDag('      timeout: 2s\n      onTimeout: approve'))),
    ]);
    assert.equal(rejected.state, 'failed');
    assert.equal(rejected.approvals?.[0]?.timedOut, true);
    assert.equal(rejected.approvals?.[0]?.by, 'timeout');
    assert.equal(taskOf(rejected, 'gate').error?.type, 'ApprovalRejected');
    assert.equal(approved.state, 'succeeded');
    assert.equal(approved.approvals?.[0]?.state, 'approved');
    assert.deepEqual(taskOf(approved, 'after').outputs, { by: 'timeout' });
  });
});
