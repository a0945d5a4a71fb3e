import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { getRunStatus } from '../client/runs';
import { ParamValidationError } from '../dag-repos/schema/params';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';
import { taskOf as task, until } from './support/waiting';

const CHILD_DAG = `
id: child
params:
  name: { type: string, required: true }
  times: { type: integer, default: 1, min: 1 }
tasks:
  - id: greet
    uses: shell
    with: { script: 'echo "greeting=hello-\${{ params.name }}x\${{ params.times }}" >> "$QUBINODE_OUTPUTS"' }
  - { id: echo, uses: noop, needs: greet, with: { said: "\${{ tasks.greet.outputs.greeting }}" } }
`;

const FAILING_CHILD_DAG = `
id: failing-child
tasks:
  - { id: fine, uses: noop }
  - id: broken
    uses: shell
    needs: fine
    with: { script: 'echo "no route to host" >&2; exit 2' }
`;

describe('forEach fans a task out over a list', () => {
  let engine: TestEngine;
  before(async () => {
    engine = await startTestEngine();
  });
  after(async () => engine.close());

  it('runs one item per element of a param list and collects per-item outputs', async () => {
    const status = await engine.run(
      engine.compile(`
id: per-host
params:
  hosts: { type: array, default: [hv-01] }
tasks:
  - id: each
    uses: shell
    forEach: \${{ params.hosts }}
    with: { script: 'echo "host=\${{ item }}" >> "$QUBINODE_OUTPUTS"; echo "index=$QUBINODE_ITEM_INDEX" >> "$QUBINODE_OUTPUTS"' }
  - id: summary
    uses: noop
    needs: each
    with:
      count: \${{ tasks.each.outputs.count }}
      second: \${{ tasks.each.outputs.items[1].host }}
`),
      { hosts: ['hv-01', 'hv-02', 'hv-03'] },
    );
    assert.equal(status.state, 'succeeded');
    const each = task(status, 'each');
    assert.equal(each.state, 'succeeded');
    assert.equal(each.summary, '3/3 items succeeded');
    assert.deepEqual(
      each.items?.map((item) => [item.index, item.label, item.state]),
      [
        [0, 'hv-01', 'succeeded'],
        [1, 'hv-02', 'succeeded'],
        [2, 'hv-03', 'succeeded'],
      ],
    );
    const outputs = each.outputs as { count: number; items: { host: string; index: number }[] };
    assert.equal(outputs.count, 3);
    assert.deepEqual(
      outputs.items.map((item) => [item.host, item.index]),
      [
        ['hv-01', 0],
        ['hv-02', 1],
        ['hv-03', 2],
      ],
    );
    assert.deepEqual(task(status, 'summary').outputs, { count: 3, second: 'hv-02' });
  });

  it('fails the task when one item fails but lets the other items finish', async () => {
    const status = await engine.run(
      engine.compile(`
id: one-bad-item
tasks:
  - id: each
    uses: shell
    forEach: [a, b, c]
    with: { script: 'if [ "\${{ item }}" = b ]; then echo "b is broken" >&2; exit 4; fi; echo "ok=\${{ item }}" >> "$QUBINODE_OUTPUTS"' }
  - { id: after, uses: noop, needs: each }
`),
    );
    assert.equal(status.state, 'failed');
    const each = task(status, 'each');
    assert.equal(each.state, 'failed');
    assert.deepEqual(
      each.items?.map((item) => item.state),
      ['succeeded', 'failed', 'succeeded'],
    );
    assert.equal(each.items?.[1]?.error?.type, 'CommandFailed');
    assert.equal(each.error?.type, 'CommandFailed');
    assert.match(each.error?.message ?? '', /^item 1 \(b\): exit code 4: b is broken/);
    const outputs = each.outputs as { items: ({ ok: string } | null)[] };
    assert.equal(outputs.items[0]?.ok, 'a');
    assert.equal(outputs.items[1], null);
    assert.equal(outputs.items[2]?.ok, 'c');
    assert.equal(each.summary, '2/3 items succeeded');
    assert.equal(task(status, 'after').state, 'skipped');
  });

  it('succeeds with a count of 0 over an empty list', async () => {
    const status = await engine.run(
      engine.compile(`
id: nothing-to-do
params:
  hosts: { type: array, default: [] }
tasks:
  - { id: each, uses: noop, forEach: "\${{ params.hosts }}", with: { host: "\${{ item }}" } }
  - { id: after, uses: noop, needs: each, with: { count: "\${{ tasks.each.outputs.count }}" } }
`),
    );
    assert.equal(status.state, 'succeeded');
    assert.deepEqual(task(status, 'each').outputs, { items: [], count: 0 });
    assert.deepEqual(task(status, 'each').items, []);
    assert.deepEqual(task(status, 'after').outputs, { count: 0 });
  });

  it('fails the task with an ExpressionError when forEach does not give a list', async () => {
    const status = await engine.run(
      engine.compile(`
id: not-a-list
params:
  hosts: { type: string, default: hv-01 }
tasks:
  - { id: each, uses: noop, forEach: "\${{ params.hosts }}" }
`),
    );
    assert.equal(status.state, 'failed');
    assert.equal(task(status, 'each').error?.type, 'ExpressionError');
    assert.match(task(status, 'each').error?.message ?? '', /forEach must give a list, got string/);
  });
});

describe('uses: dag runs another DAG as a child workflow', () => {
  let engine: TestEngine;
  before(async () => {
    engine = await startTestEngine();
  });
  after(async () => engine.close());

  it('runs the child with params and exposes its task outputs to the parent', async () => {
    const dag = engine.compile(
      `
id: parent
params:
  who: { type: string, default: world }
tasks:
  - id: call
    uses: dag
    with: { dag: child, params: { name: "\${{ params.who }}", times: 2 } }
  - { id: use, uses: noop, needs: call, with: { got: "\${{ tasks.call.outputs.tasks.greet.greeting }}", said: "\${{ tasks.call.outputs.tasks.echo.said }}" } }
`,
      { child: CHILD_DAG },
    );
    const status = await engine.run(dag, { who: 'ops' });
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks, null, 2));
    const call = task(status, 'call');
    const childRunId = `dag/test/child/${status.runKey}.call`;
    assert.equal(call.childRunId, childRunId);
    assert.equal((call.outputs as { runId: string }).runId, childRunId);
    assert.equal((call.outputs as { state: string }).state, 'succeeded');
    assert.deepEqual(task(status, 'use').outputs, { got: 'hello-opsx2', said: 'hello-opsx2' });

    const child = await getRunStatus(engine.client, childRunId);
    assert.equal(child.state, 'succeeded');
    assert.equal(child.dagId, 'test/child');
    assert.deepEqual(child.params, { name: 'ops', times: 2 });
    assert.deepEqual(taskStates(child), { greet: 'succeeded', echo: 'succeeded' });
  });

  it('fails the parent task when the child run fails', async () => {
    const dag = engine.compile(
      `
id: parent-of-failure
tasks:
  - { id: call, uses: dag, with: { dag: failing-child } }
  - { id: after, uses: noop, needs: call }
  - { id: handle, uses: noop, needs: call, trigger: one_failed }
`,
      { 'failing-child': FAILING_CHILD_DAG },
    );
    const status = await engine.run(dag);
    assert.equal(status.state, 'failed');
    const call = task(status, 'call');
    assert.equal(call.state, 'failed');
    assert.equal(call.childRunId, `dag/test/failing-child/${status.runKey}.call`);
    assert.equal(call.error?.type, 'DagRunFailed');
    assert.match(call.error?.message ?? '', /task "broken".*exit code 2: no route to host/);
    assert.deepEqual(taskStates(status), { call: 'failed', after: 'skipped', handle: 'succeeded' });

    const child = await getRunStatus(engine.client, call.childRunId ?? '');
    assert.equal(child.state, 'failed');
    assert.deepEqual(taskStates(child), { fine: 'succeeded', broken: 'failed' });
  });

  it('fails the calling task when params rendered at run time do not suit the child', async () => {
    const dag = engine.compile(
      `
id: parent-bad-times
params:
  times: { type: string, default: "many" }
tasks:
  - { id: call, uses: dag, with: { dag: child, params: { name: x, times: "\${{ params.times }}" } } }
`,
      { child: CHILD_DAG },
    );
    const status = await engine.run(dag);
    assert.equal(status.state, 'failed');
    const call = task(status, 'call');
    assert.equal(call.state, 'failed');
    assert.equal(call.error?.type, 'ParamValidationError');
    assert.match(call.error?.message ?? '', /param times: expected an integer, got "many"/);
  });

  it('refuses to start a run whose params are invalid, naming each bad param', async () => {
    const dag = engine.compile(CHILD_DAG);
    const runKey = randomUUID().slice(0, 12);
    await assert.rejects(
      () => engine.start(dag, { times: 0, colour: 'red' }, runKey),
      (error: unknown) => {
        assert.ok(error instanceof ParamValidationError);
        assert.deepEqual(
          error.problems.map((problem) => problem.param).sort(),
          ['colour', 'name', 'times'],
        );
        assert.match(error.message, /param name: required/);
        assert.match(error.message, /param times: must be at least 1, got 0/);
        assert.match(error.message, /param colour: unknown param/);
        return true;
      },
    );
    await assert.rejects(() => engine.client.workflow.getHandle(`dag/test/child/${runKey}`).describe(), { name: 'WorkflowNotFoundError' });
  });
});

describe('runsOn routes a task to the worker of another task queue', () => {
  let engine: TestEngine;
  before(async () => {
    engine = await startTestEngine();
  });
  after(async () => engine.close());

  it('leaves the task waiting until a worker polls its queue, then runs it there', async () => {
    const queue = `q-${randomUUID().slice(0, 8)}`;
    const dag = engine.compile(`
id: routed
params:
  host: { type: string }
tasks:
  - { id: local, uses: noop }
  - id: remote
    uses: shell
    needs: local
    runsOn: \${{ params.host }}
    with: { script: 'echo "queue=\${{ params.host }}" >> "$QUBINODE_OUTPUTS"' }
`);
    const runId = await engine.start(dag, { host: queue });
    await until(async () => task(await getRunStatus(engine.client, runId), 'remote').state === 'running', 30_000, 'the remote task to be scheduled');
    const waiting = await getRunStatus(engine.client, runId);
    assert.equal(task(waiting, 'local').state, 'succeeded');
    assert.equal(task(waiting, 'remote').state, 'running', 'no worker polls the queue yet');
    assert.equal(task(waiting, 'remote').runsOn, queue);

    await engine.addWorker(queue, false);
    const status = await engine.wait(runId);
    assert.equal(status.state, 'succeeded');
    assert.equal(task(status, 'remote').runsOn, queue);
    assert.equal((task(status, 'remote').outputs as { queue: string }).queue, queue);
  });

  it('routes each forEach item to the queue its item names', async () => {
    const queues = [`q-${randomUUID().slice(0, 8)}`, `q-${randomUUID().slice(0, 8)}`];
    for (const queue of queues) await engine.addWorker(queue, false);
    const runId = await engine.start(
      engine.compile(`
id: routed-items
params:
  hosts: { type: array }
tasks:
  - id: each
    uses: shell
    forEach: \${{ params.hosts }}
    runsOn: \${{ item }}
    with: { script: 'echo "ran=\${{ item }}" >> "$QUBINODE_OUTPUTS"' }
`),
      { hosts: queues },
    );
    const status = await engine.wait(runId);
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks, null, 2));
    const each = task(status, 'each');
    // Each item reports its own queue; the task has none of its own, and never the raw template.
    assert.deepEqual(
      each.items?.map((item) => item.runsOn),
      queues,
    );
    assert.equal(each.runsOn, undefined);
    // The history says where each item's activity was scheduled.
    const history = await engine.client.workflow.getHandle(runId).fetchHistory();
    const scheduled = (history.events ?? [])
      .map((event) => event.activityTaskScheduledEventAttributes)
      .filter((attributes) => attributes?.activityId?.startsWith('each'))
      .map((attributes) => [attributes?.activityId, attributes?.taskQueue?.name]);
    assert.deepEqual(scheduled.sort(), [
      ['each[0]', queues[0]],
      ['each[1]', queues[1]],
    ]);
  });
});
