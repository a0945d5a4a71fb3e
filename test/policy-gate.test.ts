import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Worker } from '@temporalio/worker';
import { approveVersion, dagVersionHash, setPolicy, VersionApprovalNeededError, type PolicyStore } from '../client/repo-policy';
import { startRun } from '../client/runs';
import { createLogger } from '../config/logger';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import { createQubinodeWorker } from '../workers/qubinode-worker';
import { startTestEngine, type TestEngine } from './support/engine';
import { taskOf } from './support/waiting';
import { workerTemporalAccess } from '../client/worker-access';

/**
 * Each host's worker checks the repository policy and its own cap before a task runs. Runs are
 * started straight on Temporal here, as a compromised control plane could, so only the host stands
 * between the task and its tool.
 */
describe('the policy gate on each host (real Temporal, real workers)', () => {
  let engine: TestEngine;
  let store: PolicyStore;
  const policyId = `policy/test-${randomUUID()}`;
  const dir = mkdtempSync(path.join(tmpdir(), 'qubinode-gate-'));
  const capped = `cap-${randomUUID().slice(0, 8)}`;
  const open = `open-${randomUUID().slice(0, 8)}`;
  const production = `prod-${randomUUID().slice(0, 8)}`;
  const workers: { worker: Worker; done: Promise<void>; close: () => Promise<void> }[] = [];

  const hostWorker = async (queue: string, extra: { hostLabels?: Record<string, string>; hostFile?: string } = {}): Promise<void> => {
    const config = { ...engine.config, taskQueue: engine.taskQueue, hostLabels: extra.hostLabels ?? {}, policy: { workflowId: policyId, ...(extra.hostFile ? { hostFile: extra.hostFile } : {}) } };
    const running = await createQubinodeWorker({ temporalAccess: workerTemporalAccess, config, logger: createLogger('error', 'gate-test'), taskQueue: queue, runWorkflows: false });
    workers.push({ worker: running.worker, done: running.worker.run(), close: running.close });
  };
  /** A DAG whose one task would leave a marker file on the host; compiled with no policy, as a control plane that lets anything through. */
  const touching = (queue: string, marker: string): CompiledDag => engine.compile(`id: gate\ntasks:\n  - id: touch\n    uses: shell\n    runsOn: ${queue}\n    with: { command: [touch, "${marker}"] }\n`);
  const run = async (dag: CompiledDag, policyWorkflowId = `policy/none-${randomUUID()}`) => {
    const started = await startRun(engine.client, { dag, params: {}, taskQueue: engine.taskQueue, runKey: randomUUID().slice(0, 12), policyWorkflowId });
    return engine.wait(started.runId);
  };

  before(async () => {
    engine = await startTestEngine({ env: { QUBINODE_POLICY_WORKFLOW_ID: policyId } });
    store = { client: engine.client, workflowId: policyId, taskQueue: engine.taskQueue };
    const cap = path.join(dir, 'host-policy.yaml');
    writeFileSync(cap, 'repos: [infra]\nactions: ["diag.*", shell]\n');
    await hostWorker(capped, { hostFile: cap });
    await hostWorker(open);
    await hostWorker(production, { hostLabels: { env: 'production' } });
  });
  after(async () => {
    for (const { worker } of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.all(workers.map(({ done, close }) => done.catch(() => undefined).then(close)));
    // The policy store of this suite would otherwise outlive it, on a queue nobody polls.
    await engine.client.workflow.getHandle(policyId).terminate('test done').catch(() => undefined);
    await engine.close();
  });

  it('refuses a task of a repository its host cap file does not list, although no policy forbids it, and the tool never starts', async () => {
    const marker = path.join(dir, 'capped-ran');
    const status = await run(touching(capped, marker));
    const task = taskOf(status, 'touch');
    assert.equal(task.state, 'failed');
    assert.equal(task.error?.type, 'PolicyRefused');
    assert.equal(task.error?.retryable, false);
    assert.match(task.error?.message ?? '', new RegExp(`host ${capped} does not accept repository test \\(its host policy file allows infra\\)`));
    assert.equal(existsSync(marker), false);
  });

  it('refuses a task on a host the repository policy does not allow, and a changed policy takes effect within seconds', async () => {
    await setPolicy(store, 'test', { shell: true, hosts: { queues: [engine.taskQueue] } }, 'test-admin');
    const marker = path.join(dir, 'open-ran');
    const refused = taskOf(await run(touching(open, marker)), 'touch');
    assert.equal(refused.error?.type, 'PolicyRefused');
    assert.match(refused.error?.message ?? '', new RegExp(`repository test may not run on host ${open}: the policy allows only hosts with queue ${engine.taskQueue} \\(repo policy of test\\)`));
    assert.equal(existsSync(marker), false);

    await setPolicy(store, 'test', { shell: true, hosts: { queues: [engine.taskQueue, open] } }, 'test-admin');
    // The worker reuses a policy read for at most 3 seconds.
    let last = '';
    for (let attempt = 0; attempt < 10 && !existsSync(marker); attempt += 1) last = taskOf(await run(touching(open, marker)), 'touch').state;
    assert.ok(existsSync(marker), `still refused after the policy allowed ${open} (last state ${last})`);
  });

  it('refuses shell on the host when the policy stops allowing it, naming the rule', async () => {
    await setPolicy(store, 'test', { shell: false }, 'test-admin');
    // Attempts inside the 3-second cache may still run; each has its own marker, and the refused one must have none.
    let refused: { message: string; marker: string } | undefined;
    for (let attempt = 0; attempt < 10 && !refused; attempt += 1) {
      const marker = path.join(dir, `no-shell-${attempt}`);
      const task = taskOf(await run(touching(open, marker)), 'touch');
      if (task.error?.type === 'PolicyRefused') refused = { message: task.error.message, marker };
    }
    assert.match(refused?.message ?? '', /action shell refused on host open-\w+: the policy does not allow shell \(repo policy of test\)/);
    assert.equal(existsSync(refused?.marker ?? ''), false);
  });

  it('refuses at start a new DAG version aimed at a production host until it is approved, and the host refuses it too when the start check is skipped', async () => {
    await setPolicy(store, 'test', { shell: true, approveNewVersionsOn: ['env=production'] }, 'test-admin');
    const marker = path.join(dir, 'production-ran');
    const compiled = touching(production, marker);
    const dag: CompiledDag = { ...compiled, origin: { ...compiled.origin, commit: 'c0ffee'.padEnd(40, '0') } };
    await assert.rejects(
      startRun(engine.client, { dag, params: {}, taskQueue: engine.taskQueue, policyWorkflowId: policyId }),
      (error: Error) => error instanceof VersionApprovalNeededError && error.message === `DAG test/gate at c0ffee000000 needs approval before its first run on production hosts (${production}): qubinode policy approve-version test/gate --commit ${dag.origin.commit}`,
    );
    // A control plane that skips its own check (another policy store named) still meets the host's.
    const skipped = taskOf(await run(dag), 'touch');
    assert.equal(skipped.error?.type, 'PolicyRefused');
    assert.match(skipped.error?.message ?? '', /test\/gate at c0ffee000000 needs approval before its first run on production hosts/);
    assert.equal(existsSync(marker), false);

    await approveVersion(store, { dag: dag.catalogId, commit: dag.origin.commit, hash: dagVersionHash(dag), by: 'reviewer' });
    let state = '';
    for (let attempt = 0; attempt < 10 && !existsSync(marker); attempt += 1) state = taskOf(await run(dag, policyId), 'touch').state;
    assert.ok(existsSync(marker), `approved version still refused (last state ${state})`);
  });
});
