import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';

interface Span {
  task: string;
  start: bigint;
  end: bigint;
}

/** A shell step that appends `start <id> <ns>` and `end <id> <ns>` lines around a short sleep. */
function markedScript(file: string, id: string, sleepSeconds: number, extra = ''): string {
  return `echo "start ${id} $(date +%s%N)" >> '${file}'; sleep ${sleepSeconds}; ${extra}echo "end ${id} $(date +%s%N)" >> '${file}'`;
}

function readSpans(file: string): Span[] {
  const marks = new Map<string, { start?: bigint; end?: bigint }>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const [kind, task, stamp] = line.split(' ');
    if (!task || !stamp || (kind !== 'start' && kind !== 'end')) continue;
    const mark = marks.get(task) ?? {};
    mark[kind] = BigInt(stamp);
    marks.set(task, mark);
  }
  return [...marks.entries()].map(([task, { start, end }]) => {
    assert.ok(start !== undefined && end !== undefined, `task ${task} has both markers`);
    return { task, start, end };
  });
}

/** Largest number of spans open at one instant. */
function maxOverlap(spans: readonly Span[]): number {
  const events = spans.flatMap((span) => [
    { at: span.start, delta: 1 },
    { at: span.end, delta: -1 },
  ]);
  // Ends sort before starts at the same instant: touching spans do not overlap.
  events.sort((a, b) => (a.at === b.at ? a.delta - b.delta : a.at < b.at ? -1 : 1));
  let open = 0;
  let most = 0;
  for (const event of events) {
    open += event.delta;
    most = Math.max(most, open);
  }
  return most;
}

function span(spans: readonly Span[], task: string): Span {
  const found = spans.find((candidate) => candidate.task === task);
  assert.ok(found, `no markers for task ${task}`);
  return found;
}

describe('dagRun schedules tasks by their dependencies', () => {
  let engine: TestEngine;
  let dir: string;
  before(async () => {
    engine = await startTestEngine();
    dir = mkdtempSync(path.join(tmpdir(), 'qubinode-graph-'));
  });
  after(async () => {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a chain in dependency order, each task starting after its upstream ended', async () => {
    const file = path.join(dir, 'chain.log');
    // Declared out of order on purpose: the order must come from needs, not from the file.
    const dag = engine.compile(`
id: chain-order
tasks:
  - id: third
    uses: shell
    needs: second
    with: { script: ${JSON.stringify(markedScript(file, 'third', 0.05))} }
  - id: first
    uses: shell
    with: { script: ${JSON.stringify(markedScript(file, 'first', 0.2))} }
  - id: second
    uses: shell
    needs: first
    with: { script: ${JSON.stringify(markedScript(file, 'second', 0.1))} }
`);
    const status = await engine.run(dag);
    assert.equal(status.state, 'succeeded');
    assert.deepEqual(taskStates(status), { first: 'succeeded', second: 'succeeded', third: 'succeeded' });
    const spans = readSpans(file);
    assert.deepEqual(
      [...spans].sort((a, b) => (a.start < b.start ? -1 : 1)).map((entry) => entry.task),
      ['first', 'second', 'third'],
    );
    assert.ok(span(spans, 'first').end <= span(spans, 'second').start, 'second starts after first ended');
    assert.ok(span(spans, 'second').end <= span(spans, 'third').start, 'third starts after second ended');
  });

  it('runs both sides of a diamond at once and gives the join the outputs of both', async () => {
    const file = path.join(dir, 'diamond.log');
    const dag = engine.compile(`
id: diamond
tasks:
  - id: a
    uses: shell
    with: { script: 'echo "seed=7" >> "$QUBINODE_OUTPUTS"' }
  - id: b
    uses: shell
    needs: a
    with: { script: ${JSON.stringify(markedScript(file, 'b', 0.5, 'echo left=$(( \${{ tasks.a.outputs.seed }} * 2 )) >> $QUBINODE_OUTPUTS; '))} }
  - id: c
    uses: shell
    needs: a
    with: { script: ${JSON.stringify(markedScript(file, 'c', 0.5, 'echo right=\${{ tasks.a.outputs.seed }}-c >> $QUBINODE_OUTPUTS; '))} }
  - id: d
    uses: noop
    needs: [b, c]
    with:
      left: \${{ tasks.b.outputs.left }}
      right: \${{ tasks.c.outputs.right }}
`);
    const status = await engine.run(dag);
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks, null, 2));
    const d = status.tasks.find((task) => task.id === 'd');
    assert.deepEqual(d?.outputs, { left: 14, right: '7-c' });
    const spans = readSpans(file);
    const [b, c] = [span(spans, 'b'), span(spans, 'c')];
    assert.ok(b.start < c.end && c.start < b.end, `b and c overlap (b ${b.start}-${b.end}, c ${c.start}-${c.end})`);
  });

  it('fans out to 50 independent tasks and runs the join only after all of them', async () => {
    const ids = Array.from({ length: 50 }, (_, index) => `t${index}`);
    const dag = engine.compile(`
id: fan-out
concurrency: 50
tasks:
${ids.map((id) => `  - { id: ${id}, uses: noop, with: { n: "${id}" } }`).join('\n')}
  - id: join
    uses: noop
    needs: [${ids.join(', ')}]
    with:
      first: \${{ tasks.t0.outputs.n }}
      last: \${{ tasks.t49.outputs.n }}
`);
    const status = await engine.run(dag);
    assert.equal(status.state, 'succeeded');
    assert.equal(status.tasks.length, 51);
    assert.ok(status.tasks.every((task) => task.state === 'succeeded'));
    const join = status.tasks.find((task) => task.id === 'join');
    assert.ok(join?.startedAt);
    assert.deepEqual(join.outputs, { first: 't0', last: 't49' });
    const lastUpstreamEnd = status.tasks
      .filter((task) => task.id !== 'join')
      .map((task) => task.endedAt ?? '')
      .sort()
      .at(-1);
    assert.ok(lastUpstreamEnd && join.startedAt >= lastUpstreamEnd, `join started ${join.startedAt}, last upstream ended ${lastUpstreamEnd}`);
    assert.deepEqual(status.progress, { done: 51, total: 51 });
  });

  it('never runs more tasks at once than the DAG concurrency allows', async () => {
    const file = path.join(dir, 'concurrency.log');
    const ids = Array.from({ length: 6 }, (_, index) => `w${index}`);
    const dag = engine.compile(`
id: limited
concurrency: 2
tasks:
${ids.map((id) => `  - { id: ${id}, uses: shell, with: { script: ${JSON.stringify(markedScript(file, id, 0.3))} } }`).join('\n')}
`);
    const status = await engine.run(dag);
    assert.equal(status.state, 'succeeded');
    const spans = readSpans(file);
    assert.equal(spans.length, 6);
    // Exactly 2: at most 2 proves the limit; at least 2 proves tasks still run side by side.
    assert.equal(maxOverlap(spans), 2);
  });

  it('counts forEach items against the DAG concurrency', async () => {
    const file = path.join(dir, 'items.log');
    const dag = engine.compile(`
id: limited-items
concurrency: 2
tasks:
  - id: each
    uses: shell
    forEach: [i0, i1, i2, i3, i4]
    with: { script: ${JSON.stringify(markedScript(file, '${{ item }}', 0.3))} }
  - id: solo
    uses: shell
    with: { script: ${JSON.stringify(markedScript(file, 'solo', 0.3))} }
`);
    const status = await engine.run(dag);
    assert.equal(status.state, 'succeeded');
    const spans = readSpans(file);
    assert.equal(spans.length, 6);
    assert.equal(maxOverlap(spans), 2);
  });
});
