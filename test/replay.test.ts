import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { History } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { startTestEngine, type TestEngine } from './support/engine';
import { historyFromSavedJson, loadSavedHistories, recordScenario, SCENARIOS } from './support/record-histories';
import { testWorkflowBundle } from './support/workflow-bundle';

/** Replays histories against the current workflow code; returns one line per history that failed. */
async function replayFailures(histories: { workflowId: string; history: History }[]): Promise<string[]> {
  const failures: string[] = [];
  const results = Worker.runReplayHistories({ workflowBundle: await testWorkflowBundle() }, histories);
  for await (const result of results) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.name}: ${result.error.message}`);
  }
  return failures;
}

/**
 * The workflow id the history was recorded under. Replaying under the same id matters: workflow code
 * may derive ids from it (e.g. the AI analysis child `ai/<run id>/<task>`), and a different id would
 * read as a determinism error.
 */
function recordedWorkflowId(json: unknown): string | undefined {
  const first = (json as { events?: { workflowExecutionStartedEventAttributes?: { workflowId?: string } }[] }).events?.[0];
  return first?.workflowExecutionStartedEventAttributes?.workflowId || undefined;
}

/** The history JSON with the first task of the run's DAG turned into a different action (a workflow code change, in effect). */
function withFirstTaskAction(json: unknown, action: string): unknown {
  const copy = structuredClone(json) as {
    events: { workflowExecutionStartedEventAttributes?: { input: { payloads: { data: string }[] } } }[];
  };
  const payload = copy.events[0]?.workflowExecutionStartedEventAttributes?.input.payloads[0];
  assert.ok(payload, 'the first event carries the run input');
  const input = JSON.parse(Buffer.from(payload.data, 'base64').toString('utf8')) as { dag: { tasks: { action: string; execution: unknown }[] } };
  const first = input.dag.tasks[0];
  assert.ok(first);
  first.action = action;
  first.execution = { kind: 'activity', activity: action };
  payload.data = Buffer.from(JSON.stringify(input)).toString('base64');
  return copy;
}

describe('workflow code stays deterministic for recorded runs', () => {
  let engine: TestEngine;
  before(async () => {
    engine = await startTestEngine();
  });
  after(async () => engine.close());

  it('replays every saved history without a determinism error', async () => {
    const saved = loadSavedHistories();
    const names = saved.map((entry) => entry.name);
    for (const scenario of SCENARIOS) assert.ok(names.includes(scenario.name), `test/fixtures/histories/${scenario.name}.json is missing; run test/support/record-histories.ts`);
    const failures = await replayFailures(saved.map(({ name, json }) => ({ workflowId: recordedWorkflowId(json) ?? `replay/${name}`, history: historyFromSavedJson(json) })));
    assert.deepEqual(failures, []);
  });

  it('replays a run recorded just now, its child runs included', async () => {
    const scenario = SCENARIOS.find((candidate) => candidate.name === 'sub-dag');
    assert.ok(scenario);
    const recorded = await recordScenario(engine, scenario);
    assert.equal(recorded.length, 3, 'the parent and its two children');
    const failures = await replayFailures(recorded.map(({ workflowId, json }) => ({ workflowId, history: historyFromSavedJson(json) })));
    assert.deepEqual(failures, []);
  });

  it('reports a determinism error when the code no longer does what the history recorded', async () => {
    const chain = loadSavedHistories().find((entry) => entry.name === 'chain');
    assert.ok(chain);
    const failures = await replayFailures([{ workflowId: 'replay/chain-changed', history: historyFromSavedJson(withFirstTaskAction(chain.json, 'noop')) }]);
    assert.equal(failures.length, 1);
    assert.match(failures[0] ?? '', /DeterminismViolationError|[Nn]ondeterminis/);
  });
});
