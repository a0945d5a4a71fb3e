import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RepoConfig } from '../dag-repos/schema/repo-config';
import { DagId, TaskId } from '../dag-repos/schema/dag-spec';
import * as clientIds from '../client/run-ids';
import { runKeyFromWorkflowId } from '../workflows/run-key';
import * as ids from '../workflows/workflow-ids';

/**
 * The engine's workflow and schedule ids, pinned byte for byte: running workflows signal each other by
 * them and recorded histories hold them, so a changed shape would orphan runs already in flight.
 */

describe('workflow ids', () => {
  it('builds every id in the shape running workflows and recorded histories use', () => {
    const pinned: [string, string][] = [
      [ids.runWorkflowId('examples/hello', '20261125-201723-k3f9'), 'dag/examples/hello/20261125-201723-k3f9'],
      [ids.subDagWorkflowId('examples/child', 'KEY', 'call'), 'dag/examples/child/KEY.call'],
      [ids.subDagWorkflowId('examples/child', 'KEY', 'call', 3), 'dag/examples/child/KEY.call.3'],
      [ids.taskRunKey('KEY', 'call', 0), 'KEY.call.0'],
      [ids.itemRunKey('KEY'), 'KEY'],
      [ids.itemRunKey('KEY', 2), 'KEY.2'],
      [ids.rolloutWorkflowId('fleet/update', 'KEY', 'roll'), 'rollout/fleet/update/KEY.roll'],
      [ids.rolloutWorkflowId('fleet/update', 'KEY', 'roll', 1), 'rollout/fleet/update/KEY.roll.1'],
      [ids.rolloutTargetRunKey('KEY.1', 'roll', 'host-a'), 'KEY.1.roll.host-a'],
      [ids.rolloutIdFromPath('fleet/update/KEY.roll'), 'rollout/fleet/update/KEY.roll'],
      [ids.actionWorkflowId('infra/net', 'KEY', 'change'), 'action/infra/net/KEY.change'],
      [ids.actionWorkflowId('infra/net', 'KEY', 'change', 0), 'action/infra/net/KEY.change.0'],
      [ids.analysisWorkflowId('dag/examples/hello/KEY', 'build'), 'ai/dag/examples/hello/KEY/build'],
      [ids.analysisWorkflowId('dag/examples/hello/KEY', 'build', 4), 'ai/dag/examples/hello/KEY/build.4'],
      [ids.rollbackWorkflowId('dag/examples/hello/KEY'), 'rollback/dag/examples/hello/KEY'],
      [ids.repoWorkflowId('examples'), 'repo/examples'],
      [ids.pollScheduleId('examples'), 'repo/examples/poll'],
      [ids.dagSchedulePrefix('examples'), 'dag/examples/'],
      [ids.dagScheduleId('examples/nightly', 0), 'dag/examples/nightly/schedule-0'],
      [ids.scheduledRunKey(2), 'sched-2'],
      [ids.pushRunKey('0123456789abcdef0123456789abcdef01234567'), 'push-0123456789ab'],
      [ids.hookRunKey('delivery-d1'), 'hook-delivery-d1'],
      [ids.hostLockWorkflowId('qubinode', 'host-a'), 'host-lock/qubinode/host-a'],
      [ids.taskLogReadId('host-a', 'dag/examples/hello/KEY', 'n1'), 'logs/host-a/dag/examples/hello/KEY/n1'],
      [ids.auditShardId(new Date('2026-11-26T13:59:59.999Z')), 'audit/2026-11-26T13'],
      [ids.HOST_REGISTRY_WORKFLOW_ID, 'hosts/registry'],
      [ids.POLICY_WORKFLOW_ID, 'policy/repos'],
    ];
    for (const [built, expected] of pinned) assert.equal(built, expected);
  });

  it('gives the first item of a forEach task its own suffix, not the plain task id', () => {
    assert.notEqual(ids.subDagWorkflowId('r/d', 'K', 't', 0), ids.subDagWorkflowId('r/d', 'K', 't'));
    assert.notEqual(ids.analysisWorkflowId('run', 't', 0), ids.analysisWorkflowId('run', 't'));
  });

  it('reads a run id with or without its dag/ prefix, and tells rollouts apart', () => {
    assert.equal(ids.normaliseRunId('examples/hello/KEY'), 'dag/examples/hello/KEY');
    assert.equal(ids.normaliseRunId('dag/examples/hello/KEY'), 'dag/examples/hello/KEY');
    assert.equal(ids.isRolloutId('rollout/fleet/update/KEY.roll'), true);
    assert.equal(ids.isRolloutId('dag/rollout/x/KEY'), false);
    assert.equal(ids.isRolloutId('examples/rollout/KEY'), false);
  });

  it('reads an audit shard id back only when it is exactly one', () => {
    assert.equal(ids.auditShardStart('audit/2026-11-26T13')?.toISOString(), '2026-11-26T13:00:00.000Z');
    for (const hostile of ['audit/2026-11-26T13/../x', 'audit/2026-11-26T99', 'audit/2026-13-40T01', 'x/audit/2026-11-26T13', 'audit/2026-11-26T13\n', `audit/${'9'.repeat(5000)}`]) {
      assert.equal(ids.auditShardStart(hostile), undefined, JSON.stringify(hostile.slice(0, 40)));
    }
  });

  it('finds a schedule-extended run key only under the run id prefix of the same DAG', () => {
    assert.equal(runKeyFromWorkflowId('dag/examples/hello/sched-0-2026-11-27T05:00:00Z', 'examples/hello', 'sched-0'), 'sched-0-2026-11-27T05:00:00Z');
    assert.equal(runKeyFromWorkflowId('dag/examples/hello/sched-0', 'examples/hello', 'sched-0'), undefined);
    assert.equal(runKeyFromWorkflowId('dag/examples/other/sched-0-x', 'examples/hello', 'sched-0'), undefined);
    assert.equal(runKeyFromWorkflowId('rollout/examples/hello/sched-0-x', 'examples/hello', 'sched-0'), undefined);
  });

  it('puts parts in verbatim, so hostile parts are refused where they enter the engine', () => {
    // Nothing is escaped: an id built from "../x" says "../x". The schema and the repository settings
    // are what keep slashes, dots-only names and control characters out of every part.
    assert.equal(ids.repoWorkflowId('../x'), 'repo/../x');
    for (const hostile of ['a/b', '../x', 'a\nb', 'a b', '', 'x'.repeat(64)]) assert.equal(TaskId.safeParse(hostile).success, false, `task id ${JSON.stringify(hostile.slice(0, 20))}`);
    for (const hostile of ['a/b', '../x', '.hidden', 'a\u0000b', '', 'x'.repeat(101)]) assert.equal(DagId.safeParse(hostile).success, false, `dag id ${JSON.stringify(hostile.slice(0, 20))}`);
    for (const hostile of ['a/b', '..', 'a%2Fb', 'x'.repeat(64)]) assert.equal(RepoConfig.safeParse({ name: hostile, url: 'https://git.example.test/a.git' }).success, false, `repo ${hostile.slice(0, 20)}`);
  });

  it('is what the client hands to the API and the CLI', () => {
    assert.equal(clientIds.runWorkflowId, ids.runWorkflowId);
    assert.equal(clientIds.normaliseRunId, ids.normaliseRunId);
    assert.equal(clientIds.isRolloutId, ids.isRolloutId);
    assert.equal(clientIds.rolloutIdFromPath, ids.rolloutIdFromPath);
    assert.equal(clientIds.hookRunKey, ids.hookRunKey);
  });
});
