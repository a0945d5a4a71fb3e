// test-tier: full (not in npm run test:quick: a lab, a production server, real guests, apt or the model)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FailureAnalysis } from '../ai/analysis';
import { getRunStatus } from '../client/runs';
import { analysisWorkflowId } from '../workflows/workflow-ids';
import type { DagRunStatus } from '../workflows/run-status';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';

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

/** Polls the run status until the failed task's analysis has arrived (it comes after the run ends). */
async function analysedStatus(engine: TestEngine, runId: string, taskId: string, limitMs: number): Promise<DagRunStatus> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const status = await getRunStatus(engine.client, runId);
    const task = status.tasks.find((entry) => entry.id === taskId);
    if (task?.analysis || Date.now() > deadline) return status;
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
    const analysed = await analysedStatus(engine, status.runId, 'install', 120_000);
    const task = analysed.tasks.find((entry) => entry.id === 'install');
    assert.ok(task?.analysis, `no analysis arrived: ${JSON.stringify(task)}`);
    assert.ok(FailureAnalysis.safeParse(task.analysis).success, JSON.stringify(task.analysis));
    // The model answers within the limit on this machine; if it did not, the rules answered and say why.
    if (task.analysis.source === 'rules') assert.ok(task.analysis.fallbackReason, 'a rules analysis in model mode names why the model was not used');
    else assert.match(task.analysis.model ?? '', /\.gguf$/);
    assert.equal(task.analysis.category, 'package-not-found');
    assert.equal(analysed.tasks.find((entry) => entry.id === 'always')?.analysis, undefined, 'tasks that did not fail get no analysis');
    // The analysis is its own workflow with a summary for the Web UI; the run itself is untouched.
    const description = await engine.client.workflow.getHandle(analysisWorkflowId(status.runId, 'install')).describe();
    assert.equal(description.type, 'analyzeFailure');
    assert.equal(description.status.name, 'COMPLETED');
    assert.deepEqual(taskStates(analysed), taskStates(status));
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
    assert.match(analysis.fallbackReason ?? '', /QUBINODE_AI_MODEL: no file/);
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
