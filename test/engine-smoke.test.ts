import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';

describe('dagRun on a real Temporal server', () => {
  let engine: TestEngine;
  before(async () => {
    engine = await startTestEngine();
  });
  after(async () => engine.close());

  it('runs a chain of shell tasks in order and passes outputs downstream', async () => {
    const dag = engine.compile(`
id: chain
tasks:
  - id: a
    uses: shell
    with: { script: 'echo "value=41" >> "$QUBINODE_OUTPUTS"' }
  - id: b
    uses: shell
    needs: a
    with: { command: [echo, "got \${{ tasks.a.outputs.value + 1 }}"] }
`);
    const status = await engine.run(dag);
    assert.equal(status.state, 'succeeded');
    assert.deepEqual(taskStates(status), { a: 'succeeded', b: 'succeeded' });
    assert.equal(status.tasks[1]?.outputs?.stdout, 'got 42\n');
  });
});
