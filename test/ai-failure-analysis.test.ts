// test-tier: full (not in npm run test:quick: a lab, a production server, real guests, apt or the model)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FailureAnalysis } from '../dag-repos/actions/failure-analysis';
import { getRunStatus } from '../client/runs';
import { analysisWorkflowId } from '../workflows/workflow-ids';
import type { DagRunStatus } from '../workflows/run-status';
import { Worker } from '@temporalio/worker';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';
import { testWorkflowBundle } from './support/workflow-bundle';

const FAILING_DAG = `
id: ai-e2e
tasks:
  - id: install
    uses: shell
    retry: 1
    with:
      script: |
        echo "Last metadata expiration check: 0:12:04 ago."
        echo "Error: Unable to find a match: libvirt-dameon" >&2
        exit 1
  - id: after
    uses: shell
    needs: install
    with: { command: [echo, never] }
  - id: always
    uses: shell
    needs: install
    trigger: all_done
    with: { command: [echo, cleaned] }
`;

/**
 * Polls the run status until the failed task's final analysis has arrived (it comes after the run
 * ends). Every interim one read meanwhile (the rules' answer while the model works) goes to `interim`.
 */
async function analysedStatus(engine: TestEngine, runId: string, taskId: string, limitMs: number, interim: unknown[] = []): Promise<DagRunStatus> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const status = await getRunStatus(engine.client, runId);
    const task = status.tasks.find((entry) => entry.id === taskId);
    if (task?.analysis && task.analysisPending) interim.push(task.analysis);
    if ((task?.analysis && !task.analysisPending) || Date.now() > deadline) return status;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

describe('AI failure analysis of DAG runs', () => {
  let engine: TestEngine;
  let noModel: TestEngine;

  before(async () => {
    engine = await startTestEngine({ env: { QUBINODE_AI_ANALYSIS: 'model', QUBINODE_AI_TIMEOUT_MS: '60000' } });
    noModel = await startTestEngine({ env: { QUBINODE_AI_ANALYSIS: 'model', QUBINODE_AI_MODEL: '/nonexistent/model.gguf' } });
  });
  after(async () => {
    await engine.close();
    await noModel.close();
  });

  it('attaches an analysis written by the local model to a failed task, visible through getRunStatus', async () => {
    const status = await engine.run(engine.compile(FAILING_DAG));
    assert.equal(status.state, 'failed');
    assert.deepEqual(taskStates(status), { install: 'failed', after: 'skipped', always: 'succeeded' });
    const interim: unknown[] = [];
    const analysed = await analysedStatus(engine, status.runId, 'install', 120_000, interim);
    const task = analysed.tasks.find((entry) => entry.id === 'install');
    // Read while the model worked (if the poll came in time): the rules' whole answer, already usable.
    for (const early of interim) assert.deepEqual({ source: (early as FailureAnalysis).source, category: (early as FailureAnalysis).category }, { source: 'rules', category: 'package-not-found' });
    assert.ok(task?.analysis, `no analysis arrived: ${JSON.stringify(task)}`);
    assert.ok(FailureAnalysis.safeParse(task.analysis).success, JSON.stringify(task.analysis));
    // The model answers within the limit on this machine; if it did not, the rules answered and say why.
    if (task.analysis.source === 'rules') assert.ok(task.analysis.fallbackReason, 'a rules analysis in model mode names why the model was not used');
    else assert.match(task.analysis.model ?? '', /\.gguf$/);
    assert.equal(task.analysisPending, undefined);
    assert.equal(task.analysis.category, 'package-not-found');
    assert.equal(analysed.tasks.find((entry) => entry.id === 'always')?.analysis, undefined, 'tasks that did not fail get no analysis');
    // The analysis is its own workflow with a summary for the Web UI; the run itself is untouched.
    const description = await engine.client.workflow.getHandle(analysisWorkflowId(status.runId, 'install')).describe();
    assert.equal(description.type, 'analyzeFailure');
    assert.equal(description.status.name, 'COMPLETED');
    assert.deepEqual(taskStates(analysed), taskStates(status));
  });

  it('publishes the rules\' answer before the model is asked, and the recorded analysis replays without a determinism error', async () => {
    const status = await engine.run(engine.compile(FAILING_DAG));
    const workflowId = analysisWorkflowId(status.runId, 'install');
    const handle = engine.client.workflow.getHandle(workflowId);
    const final = await handle.result();
    const history = await handle.fetchHistory();
    const events = history.events ?? [];
    const scheduled = events.flatMap((event, index) => (event.activityTaskScheduledEventAttributes ? [{ index, type: event.activityTaskScheduledEventAttributes.activityType?.name }] : []));
    assert.deepEqual(scheduled.map((entry) => entry.type), ['ai.analyzeWithRules', 'ai.enrich'], 'the rules first, then the model; never the model alone');
    const memoBefore = events.findIndex((event) => event.workflowPropertiesModifiedEventAttributes);
    assert.ok(memoBefore > (scheduled[0]?.index ?? Infinity) && memoBefore < (scheduled[1]?.index ?? -1), 'the rules\' answer is in the memo before the model is asked');
    // Whatever the model wrote, the category, fixes and references are the rules'.
    const queried = await handle.query<unknown>('analysis');
    assert.deepEqual(queried, final);
    assert.equal((final as { category?: string }).category, 'package-not-found');
    const replayed = Worker.runReplayHistories({ workflowBundle: await testWorkflowBundle() }, [{ workflowId, history }]);
    for await (const result of replayed) assert.equal(result.error, undefined, String(result.error));
  });

  it('falls back to the rules when the model file is missing, and the run ends exactly as it would without AI', async () => {
    const status = await noModel.run(noModel.compile(FAILING_DAG));
    assert.equal(status.state, 'failed');
    assert.deepEqual(taskStates(status), { install: 'failed', after: 'skipped', always: 'succeeded' });
    assert.equal(status.tasks.find((entry) => entry.id === 'install')?.error?.type, 'CommandFailed');
    const analysed = await analysedStatus(noModel, status.runId, 'install', 60_000);
    const analysis = analysed.tasks.find((entry) => entry.id === 'install')?.analysis;
    assert.ok(analysis);
    assert.equal(analysis.source, 'rules');
    assert.equal(analysis.category, 'package-not-found');
    assert.match(analysis.fallbackReason ?? '', /^model text not kept \(unavailable\): .*QUBINODE_AI_MODEL: no file/);
    assert.ok(analysis.fixes.some((fix) => fix.command?.includes('dnf')));
  });

  it('starts no analysis for a run that succeeds', async () => {
    const status = await noModel.run(noModel.compile(`
id: ai-ok
tasks:
  - id: fine
    uses: shell
    with: { command: [echo, ok] }
`));
    assert.equal(status.state, 'succeeded');
    await assert.rejects(noModel.client.workflow.getHandle(analysisWorkflowId(status.runId, 'fine')).describe(), /not found/i);
  });
});
