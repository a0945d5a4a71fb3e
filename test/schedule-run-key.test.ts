import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createRepoTriggerActivities } from '../activities/platform/repo-triggers';
import { getRunStatus } from '../client/runs';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { compileDagFile } from '../dag-repos/compiler/compile';
import { runKeyFromWorkflowId } from '../workflows/run-key';
import { startTestEngine, type TestEngine } from './support/engine';
import { until } from './support/waiting';
import { workerTemporalAccess } from '../client/worker-access';
import * as workflowIds from '../workflows/workflow-ids';

/** Every firing of a schedule carries the same input; each fired run must still be a run of its own. */
describe('runs fired by a schedule', () => {
  const repo = `sched-${randomUUID().slice(0, 8)}`;
  let engine: TestEngine;
  let scheduleId: string | undefined;
  before(async () => {
    engine = await startTestEngine();
  });
  after(async () => {
    if (scheduleId) await engine.client.schedule.getHandle(scheduleId).delete().catch(() => undefined);
    await engine.close();
  });

  it('gives each fired run its own run key, so two overlapping firings never share a sub-DAG or run.key', async () => {
    const child = { repo, path: 'dags/child.yaml', commit: 'c0ffee', text: 'id: child\ntasks:\n  - { id: hold, uses: shell, with: { command: [sleep, "3"] } }\n' };
    const dag = compileDagFile(
      {
        repo,
        path: 'dags/twice.yaml',
        commit: 'c0ffee',
        text: `
id: twice
on:
  schedule:
    cron: "0 0 1 1 *"
    overlap: allow_all
tasks:
  - id: key
    uses: shell
    with: { command: [sh, -c, 'echo "key=$1" >> "$QUBINODE_OUTPUTS"', key, "\${{ run.key }}"] }
  - { id: call, uses: dag, needs: key, with: { dag: child } }
`,
      },
      { registry: new ActionRegistry(), resolveDag: (ref) => (ref === `${repo}/child` ? child : undefined) },
    );
    const triggers = createRepoTriggerActivities({ runs: workerTemporalAccess.runs, ids: workflowIds, client: async () => engine.client, taskQueue: engine.taskQueue });
    const reconciled = await triggers.reconcileSchedules({ repo, dags: [dag] });
    assert.deepEqual(reconciled.errors, []);
    scheduleId = reconciled.created[0];
    assert.ok(scheduleId, 'the schedule exists');
    const handle = engine.client.schedule.getHandle(scheduleId);
    await handle.trigger('ALLOW_ALL');
    // A schedule names a fired workflow by the second it fired at: the second firing comes in a later second.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await handle.trigger('ALLOW_ALL');

    let fired: string[] = [];
    await until(async () => {
      fired = (await handle.describe()).info.recentActions.map((action) => action.action.workflow.workflowId);
      return fired.length === 2;
    }, 30_000, 'two fired runs');
    const statuses = await Promise.all(
      fired.map(async (runId) => {
        await engine.client.workflow.getHandle(runId).result().catch(() => undefined);
        return getRunStatus(engine.client, runId);
      }),
    );
    for (const status of statuses) assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks.map((task) => task.error)));
    const keys = statuses.map((status) => String(status.tasks.find((task) => task.id === 'key')?.outputs?.key));
    assert.notEqual(keys[0], keys[1], 'run.key differs between the fired runs');
    for (const [index, key] of keys.entries()) {
      assert.match(key, /^sched-0-\d{4}-/, 'the key is the schedule entry plus the time it fired');
      assert.equal(fired[index], `dag/${dag.catalogId}/${key}`, 'run.key is the run id the schedule gave');
    }
    const children = statuses.map((status) => status.tasks.find((task) => task.id === 'call')?.childRunId);
    assert.equal(new Set(children).size, 2, `each run has its own sub-DAG run: ${children.join(', ')}`);
  });

  it('keeps the given key for runs not started by a schedule, and refuses ids that only look alike', () => {
    assert.equal(runKeyFromWorkflowId('dag/r/d/abc', 'r/d', 'abc'), undefined);
    assert.equal(runKeyFromWorkflowId('dag/r/d/sched-0-2026-11-26T22:00:00Z', 'r/d', 'sched-0'), 'sched-0-2026-11-26T22:00:00Z');
    assert.equal(runKeyFromWorkflowId('dag/r/other/sched-0-x', 'r/d', 'sched-0'), undefined, 'another DAG');
    assert.equal(runKeyFromWorkflowId('dag/r/d/sched-01', 'r/d', 'sched-0'), undefined, 'another schedule entry');
  });
});
