import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { checkDagFile, compileDagFile } from '../dag-repos/compiler/compile';
import { HISTORY_LIMITS, historyBudgetProblems } from '../dag-repos/compiler/history-budget';

const registry = new ActionRegistry();

/** A chain of no-op tasks in flow style (about ten YAML tokens a task, so big chains stay under the file limits). */
function chain(count: number): string {
  const tasks = Array.from({ length: count }, (_, index) => `  - {id: t${index}, uses: noop${index > 0 ? `, needs: t${index - 1}` : ''}}`);
  return `id: big\nconcurrency: 10\ntasks:\n${tasks.join('\n')}\n`;
}

function check(text: string, file = 'dags/big.yaml'): ReturnType<typeof checkDagFile> {
  return checkDagFile({ repo: 'bench', path: file, commit: 'c0', text }, { registry });
}

describe('a DAG too large for one workflow history is refused when it is compiled', () => {
  it('compiles a 3,000-task chain, which one history holds', () => {
    const dag = compileDagFile({ repo: 'bench', path: 'dags/big.yaml', commit: 'c0', text: chain(3000) }, { registry });
    assert.equal(dag.tasks.length, 3000);
    assert.deepEqual(historyBudgetProblems(dag), []);
  });

  it('finds an 8,000-task chain too large, naming the count, the events it needs and the history limit', () => {
    // A file stops at the token limit first (about 3,500 tasks), so the chain is built from a compiled one.
    const small = compileDagFile({ repo: 'bench', path: 'dags/big.yaml', commit: 'c0', text: chain(2) }, { registry });
    const [first, second] = small.tasks;
    assert.ok(first && second);
    const tasks = Array.from({ length: 8000 }, (_, index) => ({ ...(index === 0 ? first : second), id: `t${index}`, needs: index > 0 ? [`t${index - 1}`] : [] }));
    const problems = historyBudgetProblems({ ...small, tasks });
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.field, 'tasks');
    assert.match(problems[0]?.message ?? '', /^8000 tasks need up to 48000 workflow history events; one run's history holds 51200 \(Temporal's limit\), 46080 of them for tasks/);
    assert.deepEqual(historyBudgetProblems({ ...small, tasks: tasks.slice(0, 7680) }), [], '7,680 tasks x 6 events is the most that fits');
  });

  it('counts an expression forEach as one run, so DAGs with many such tasks compile (their lists are limited when the run reaches them)', () => {
    const tasks = Array.from({ length: 8 }, (_, index) => `  - id: wide${index}\n    uses: noop\n    forEach: \${{ params.hosts }}`);
    const result = check(`id: wide\nparams:\n  hosts: {type: array, default: []}\ntasks:\n${tasks.join('\n')}\n`);
    assert.deepEqual(result.diagnostics, []);
    assert.ok(result.dag);
  });

  it('counts a literal forEach list by its length', () => {
    const items = JSON.stringify(Array.from({ length: 900 }, (_, index) => `h${index}`));
    const tasks = Array.from({ length: 5 }, (_, index) => `  - id: list${index}\n    uses: noop\n    forEach: ${items}`);
    const result = check(`id: lists\ntasks:\n${tasks.join('\n')}\n`);
    assert.deepEqual(result.diagnostics, [], '5 x 900 items x 6 events fit');
  });

  it('refuses a 60,000-task file as a file-limit problem before anything is counted, without throwing', () => {
    const result = check(chain(60_000));
    assert.equal(result.dag, undefined);
    assert.deepEqual(
      result.diagnostics.map((diagnostic) => diagnostic.code),
      ['file-limit'],
    );
  });

  it('refuses a compiled DAG larger than the payload Temporal takes as the run input', () => {
    const dag = compileDagFile({ repo: 'bench', path: 'dags/small.yaml', commit: 'c0', text: chain(3) }, { registry });
    const padded = { ...dag, tasks: dag.tasks.map((task) => ({ ...task, with: { script: 'é'.repeat(HISTORY_LIMITS.maxInputBytes / 4) } })) };
    const problems = historyBudgetProblems(padded);
    assert.equal(problems.length, 1);
    assert.match(problems[0]?.message ?? '', /^the compiled DAG \(sub-DAGs included\) is \d+ bytes, the input of its run; Temporal refuses a payload over 2097152 bytes/);
    assert.deepEqual(historyBudgetProblems(dag), []);
  });
});
