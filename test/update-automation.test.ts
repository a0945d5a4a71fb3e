import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../config/config';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { LocalCatalog } from '../dag-repos/catalog/local-catalog';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import { qubinodeFromSource } from './support/cli';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';
import { taskOf, until, untilTaskState } from './support/waiting';

const EXAMPLES = path.join(PROJECT_ROOT, 'dag-repos', 'examples');
const LISTING = path.join(EXAMPLES, 'fixtures', 'dnf-check-update.txt');

const cli = qubinodeFromSource;

const stateOf = (dir: string, host: string): string => {
  const file = path.join(dir, host);
  return existsSync(file) ? (readFileSync(file, 'utf8').split(' ')[0] ?? '') : 'untouched';
};

describe('the update-automation example on stand-in hypervisors', { concurrency: true }, () => {
  let engine: TestEngine;
  let dag: CompiledDag;
  /** Three "hypervisors": workers on their own task queues on this host; each test has its own (one job per host). */
  const standInHosts = async (tag: string): Promise<string[]> => {
    const queues = ['hv1', 'hv2', 'hv3'].map((name) => `${engine.taskQueue}-${tag}-${name}`);
    await Promise.all(queues.map((queue) => engine.addWorker(queue, false)));
    return queues;
  };
  before(async () => {
    engine = await startTestEngine();
    const entry = LocalCatalog.load([{ repo: 'examples', dir: EXAMPLES }], new ActionRegistry()).get('examples/update-automation');
    assert.ok(entry.dag, JSON.stringify(entry.diagnostics));
    dag = entry.dag;
  });
  after(async () => engine.close());

  it('detects, waits for approval, and rolls back the canary hosts in reverse when the second step fails', async () => {
    const hosts = await standInHosts('rb');
    const stateDir = mkdtempSync(path.join(tmpdir(), 'qubinode-upd-'));
    const runId = await engine.start(dag, { hypervisors: hosts, listing: LISTING, approvers: ['ops'], state_dir: stateDir, fail_on: hosts[1] });
    const waiting = await untilTaskState(engine.client, runId, 'approve', 'waiting', 30_000);
    assert.deepEqual(taskOf(waiting, 'report').outputs?.total, 27);
    assert.match(waiting.approvals?.[0]?.message ?? '', /^27 updates \(0 security\) on 3 hypervisors; 3 need a reboot/);

    await until(async () => (await cli(['runs', '--waiting', '--json', '--limit', '500'])).stdout.includes(runId), 15_000, 'runs --waiting to list the run');
    const refused = await cli(['approve', runId, 'approve', '--as', 'mallory']);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /"mallory" is not an approver of task "approve"/);
    assert.doesNotMatch(refused.stderr, /approvers/, 'the refusal does not list the approvers');
    const approved = await cli(['approve', runId, 'approve', '--as', 'ops', '--comment', 'patch tuesday']);
    assert.equal(approved.code, 0, approved.stderr);
    // The local CLI acts as the OS user; --as names the approver it acts for.
    assert.ok(approved.stdout.includes(`approve: approved by ${userInfo().username} for ops — patch tuesday`), approved.stdout);

    const status = await engine.wait(runId);
    assert.equal(status.state, 'failed');
    assert.deepEqual(taskStates(status), { detect: 'succeeded', report: 'succeeded', approve: 'succeeded', rollout: 'failed', verify: 'skipped' });
    assert.match(taskOf(status, 'rollout').error?.message ?? '', new RegExp(`rolled back ${hosts[1]}, ${hosts[0]}; untouched ${hosts[2]}`));
    assert.deepEqual(hosts.map((host) => stateOf(stateDir, host)), ['rolled', 'rolled', 'untouched']);

    const progress = await cli(['rollout', runId]);
    assert.equal(progress.code, 0, progress.stderr);
    assert.match(progress.stdout, /strategy canary · rolled-back · batch 2 of 3/);
    assert.match(progress.stdout, new RegExp(`rollback: failure-threshold .*order ${hosts[1]}, ${hosts[0]}`));
    const human = await cli(['status', runId]);
    assert.ok(human.stdout.includes(`approval approve: approved by ${userInfo().username} for ops at `), human.stdout);
    assert.match(human.stdout, /rollback succeeded \(auto, trigger task-failure: task rollout failed\)/);
    const json = JSON.parse((await cli(['status', runId, '--json'])).stdout) as { approvals: { by: string; onBehalfOf?: string; comment: string }[] };
    assert.deepEqual(json.approvals.map((entry) => [entry.by, entry.onBehalfOf, entry.comment]), [[userInfo().username, 'ops', 'patch tuesday']]);
  });

  it('updates every hypervisor canary-first and verifies them when all is healthy', async () => {
    const hosts = await standInHosts('ok');
    const stateDir = mkdtempSync(path.join(tmpdir(), 'qubinode-upd-'));
    const runId = await engine.start(dag, { hypervisors: hosts, listing: LISTING, state_dir: stateDir });
    await untilTaskState(engine.client, runId, 'approve', 'waiting', 30_000);
    await engine.client.workflow.getHandle(runId).executeUpdate('approve', { args: [{ taskId: 'approve', approve: true, by: 'anyone' }] });
    const status = await engine.wait(runId);
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks.map((task) => [task.id, task.error?.message])));
    assert.deepEqual(taskOf(status, 'rollout').outputs?.updated, hosts);
    assert.deepEqual(hosts.map((host) => stateOf(stateDir, host)), ['updated', 'updated', 'updated']);
    assert.equal(taskOf(status, 'verify').summary, '3/3 items succeeded');
  });
});
