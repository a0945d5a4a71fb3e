import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { STATUS_KEY } from '../workflows/search-attributes';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';
import type { DagRunStatus } from '../workflows/run-status';
import { taskOf as task } from './support/waiting';

/** Every trigger rule once downstream of a failed task and once downstream of a succeeded one. */
const TRIGGER_DAG = `
id: triggers
tasks:
  - id: ok
    uses: shell
    with: { command: ['true'] }
  - id: bad
    uses: shell
    with: { script: 'echo "disk full" >&2; exit 3' }

  - { id: all-success-after-bad, uses: noop, needs: bad }
  - { id: all-success-downstream, uses: noop, needs: all-success-after-bad }
  - { id: all-success-after-ok, uses: noop, needs: ok }

  - { id: all-done-after-bad, uses: noop, needs: bad, trigger: all_done }
  - { id: all-done-after-ok, uses: noop, needs: ok, trigger: all_done }

  - { id: none-failed-after-skip, uses: noop, needs: [ok, all-success-after-bad], trigger: none_failed }
  - { id: none-failed-after-bad, uses: noop, needs: [ok, bad], trigger: none_failed }
  - { id: none-failed-after-ok, uses: noop, needs: ok, trigger: none_failed }

  - { id: one-failed-after-mixed, uses: noop, needs: [ok, bad], trigger: one_failed }
  - { id: one-failed-after-ok, uses: noop, needs: ok, trigger: one_failed }

  - { id: one-success-after-mixed, uses: noop, needs: [ok, bad], trigger: one_success }
  - { id: one-success-after-bad, uses: noop, needs: bad, trigger: one_success }
  - { id: one-success-after-skip, uses: noop, needs: all-success-after-bad, trigger: one_success }

  - { id: always-after-bad, uses: noop, needs: bad, trigger: always }
  - { id: always-after-ok, uses: noop, needs: ok, trigger: always }
  - { id: always-after-skip, uses: noop, needs: all-success-downstream, trigger: always }
`;

describe('trigger rules decide which tasks run after their upstreams finish', () => {
  let engine: TestEngine;
  let run: DagRunStatus;
  before(async () => {
    engine = await startTestEngine();
    run = await engine.run(engine.compile(TRIGGER_DAG));
  });
  after(async () => engine.close());

  it('fails the run when any task failed, even if later tasks handled the failure', () => {
    assert.equal(run.state, 'failed');
    assert.equal(task(run, 'bad').state, 'failed');
    assert.equal(task(run, 'bad').error?.type, 'CommandFailed');
    assert.match(task(run, 'bad').error?.message ?? '', /exit code 3: disk full/);
    assert.equal(run.progress.done, run.progress.total);
  });

  it('marks the failed run failed in its QubinodeStatus search attribute', async () => {
    const description = await engine.client.workflow.getHandle(run.runId).describe();
    assert.equal(description.status.name, 'FAILED');
    assert.equal(description.typedSearchAttributes.get(STATUS_KEY), 'failed');
  });

  it('skips a task whose upstream failed under all_success, naming the upstream, and skips its downstream too', () => {
    const skipped = task(run, 'all-success-after-bad');
    assert.equal(skipped.state, 'skipped');
    assert.match(skipped.reason ?? '', /"bad" failed/);
    const downstream = task(run, 'all-success-downstream');
    assert.equal(downstream.state, 'skipped');
    assert.match(downstream.reason ?? '', /"all-success-after-bad" skipped/);
    assert.equal(task(run, 'all-success-after-ok').state, 'succeeded');
  });

  it('runs an all_done task whatever its upstream ended as', () => {
    assert.equal(task(run, 'all-done-after-bad').state, 'succeeded');
    assert.equal(task(run, 'all-done-after-ok').state, 'succeeded');
  });

  it('runs a none_failed task after a skipped upstream but skips it after a failed one', () => {
    assert.equal(task(run, 'none-failed-after-skip').state, 'succeeded');
    const afterBad = task(run, 'none-failed-after-bad');
    assert.equal(afterBad.state, 'skipped');
    assert.match(afterBad.reason ?? '', /"bad" failed/);
    assert.equal(task(run, 'none-failed-after-ok').state, 'succeeded');
  });

  it('runs a one_failed task only when some upstream failed', () => {
    assert.equal(task(run, 'one-failed-after-mixed').state, 'succeeded');
    const afterOk = task(run, 'one-failed-after-ok');
    assert.equal(afterOk.state, 'skipped');
    assert.match(afterOk.reason ?? '', /no upstream task failed/);
  });

  it('runs a one_success task only when some upstream succeeded', () => {
    assert.equal(task(run, 'one-success-after-mixed').state, 'succeeded');
    assert.equal(task(run, 'one-success-after-bad').state, 'skipped');
    assert.match(task(run, 'one-success-after-bad').reason ?? '', /no upstream task succeeded/);
    assert.equal(task(run, 'one-success-after-skip').state, 'skipped');
  });

  it('always runs an always task, after a failure, a success or a skip', () => {
    assert.equal(task(run, 'always-after-bad').state, 'succeeded');
    assert.equal(task(run, 'always-after-ok').state, 'succeeded');
    assert.equal(task(run, 'always-after-skip').state, 'succeeded');
  });

  it('succeeds a run whose only non-succeeded tasks were skipped by their rules', async () => {
    const status = await engine.run(
      engine.compile(`
id: only-skips
tasks:
  - { id: ok, uses: noop }
  - { id: on-failure, uses: noop, needs: ok, trigger: one_failed }
  - { id: after, uses: noop, needs: on-failure }
  - { id: finally, uses: noop, needs: [ok, after], trigger: none_failed }
`),
    );
    assert.equal(status.state, 'succeeded');
    assert.deepEqual(taskStates(status), { ok: 'succeeded', 'on-failure': 'skipped', after: 'skipped', finally: 'succeeded' });
    const description = await engine.client.workflow.getHandle(status.runId).describe();
    assert.equal(description.typedSearchAttributes.get(STATUS_KEY), 'succeeded');
  });
});

describe('when conditions decide whether a ready task runs', () => {
  let engine: TestEngine;
  let run: DagRunStatus;
  before(async () => {
    engine = await startTestEngine();
    run = await engine.run(
      engine.compile(`
id: conditions
params:
  env: { type: string, default: dev }
tasks:
  - id: probe
    uses: shell
    with: { script: 'echo "flag=yes" >> "$QUBINODE_OUTPUTS"; echo "count=3" >> "$QUBINODE_OUTPUTS"' }
  - { id: literal-false, uses: noop, when: false }
  - { id: after-literal-false, uses: noop, needs: literal-false }
  - { id: literal-true, uses: noop, when: true }
  - { id: prod-only, uses: noop, when: "params.env == 'prod'" }
  - { id: dev-only, uses: noop, when: "\${{ params.env == 'dev' }}" }
  - { id: flagged, uses: noop, needs: probe, when: "tasks.probe.outputs.flag == 'yes' && tasks.probe.outputs.count > 2" }
  - { id: unflagged, uses: noop, needs: probe, when: "\${{ tasks.probe.outputs.flag == 'no' }}" }
  - { id: after-unflagged, uses: noop, needs: unflagged }
  - { id: cleanup, uses: noop, needs: after-unflagged, trigger: always }
`),
      { env: 'dev' },
    );
  });
  after(async () => engine.close());

  it('skips a task whose when is false, says why, and skips its downstream', () => {
    assert.equal(task(run, 'literal-false').state, 'skipped');
    assert.match(task(run, 'literal-false').reason ?? '', /when is false/);
    assert.equal(task(run, 'after-literal-false').state, 'skipped');
    assert.match(task(run, 'after-literal-false').reason ?? '', /"literal-false" skipped/);
  });

  it('runs a task whose when is true, from a literal or from params', () => {
    assert.equal(task(run, 'literal-true').state, 'succeeded');
    assert.equal(task(run, 'dev-only').state, 'succeeded');
    assert.equal(task(run, 'prod-only').state, 'skipped');
    assert.match(task(run, 'prod-only').reason ?? '', /params\.env == 'prod'/);
  });

  it('evaluates when against upstream outputs', () => {
    assert.equal(task(run, 'flagged').state, 'succeeded');
    assert.equal(task(run, 'unflagged').state, 'skipped');
    assert.equal(task(run, 'after-unflagged').state, 'skipped');
    assert.equal(task(run, 'cleanup').state, 'succeeded');
  });

  it('counts skips by when as a succeeded run', () => {
    assert.equal(run.state, 'succeeded');
  });

  it('fails a task whose when cannot be evaluated with an ExpressionError, and skips its downstream', async () => {
    const status = await engine.run(
      engine.compile(`
id: bad-condition
tasks:
  - { id: probe, uses: noop, with: { n: 1 } }
  - { id: guarded, uses: noop, needs: probe, when: "tasks.probe.outputs.n / 0 > 1" }
  - { id: after-guarded, uses: noop, needs: guarded }
`),
    );
    assert.equal(status.state, 'failed');
    assert.equal(task(status, 'guarded').state, 'failed');
    assert.equal(task(status, 'guarded').error?.type, 'ExpressionError');
    assert.match(task(status, 'guarded').error?.message ?? '', /division by zero/);
    assert.equal(task(status, 'after-guarded').state, 'skipped');
  });
});
