import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { compileDagFile } from '../dag-repos/compiler/compile';
import type { CompiledTask } from '../dag-repos/compiler/compiled-dag';
import { readsOf } from '../workflows/task-reads';

const [base] = compileDagFile({ repo: 'r', path: 'one.yaml', commit: 'c', text: 'id: one\ntasks:\n  - id: a\n    uses: noop\n' }, { registry: new ActionRegistry() }).tasks;

function task(fields: Partial<CompiledTask>): CompiledTask {
  assert.ok(base);
  return { ...base, ...fields };
}

function names(fields: Partial<CompiledTask>): string[] | 'all' {
  const reads = readsOf(task(fields));
  return reads === 'all' ? 'all' : [...reads].sort();
}

describe('an expression scope holds only the tasks the expressions name', () => {
  it('names the tasks read by with, runsOn, when and forEach', () => {
    assert.deepEqual(
      names({ with: { script: 'echo ${{ tasks.build.outputs.ip }}', nested: ['${{ tasks["quoted id"].state }}'] }, runsOn: '${{ tasks.pick.outputs.host }}', when: 'tasks.gate.state == "succeeded"', forEach: '${{ tasks.list.outputs.items }}' }),
      ['build', 'gate', 'list', 'pick', 'quoted id'],
    );
  });

  it('reads no task for a task without expressions, so its scope costs the same in any DAG', () => {
    assert.deepEqual(names({ with: { script: 'echo hi' } }), []);
  });

  it('gives every task to an expression that reads the tasks root as a whole or by a computed key', () => {
    assert.equal(names({ with: { all: '${{ toJSON(tasks) }}' } }), 'all');
    assert.equal(names({ with: { one: '${{ tasks[item].state }}' } }), 'all');
    assert.equal(names({ when: '${{ tasks }}' }), 'all');
  });

  it('gives every task to a template that does not parse, which then fails as it always did', () => {
    assert.equal(names({ with: { broken: '${{ tasks.a.outputs. }}' } }), 'all');
    assert.equal(names({ when: '${{ a }} and ${{ b }}' }), 'all');
  });

  it('does not take a params or item path for a task name', () => {
    assert.deepEqual(names({ with: { x: '${{ params.tasks }} ${{ item.tasks }} ${{ run.id }}' } }), []);
  });
});
