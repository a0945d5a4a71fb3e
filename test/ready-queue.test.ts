import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ReadyQueue } from '../workflows/ready-queue';

type State = 'pending' | 'running' | 'done';

interface Plan {
  /** Per task: indices of earlier tasks it needs (the compiler orders tasks topologically). */
  needs: number[][];
  /** Per task: whether deciding it finishes it at once (a skip) rather than starting it. */
  skips: boolean[];
  /** Which running task finishes after each pass (index into the running list, modulo its length). */
  finishes: number[];
}

/** The interpreter's old step: scan every task in order, deciding each pending one whose upstreams are done. */
function byScan(plan: Plan): number[][] {
  const states: State[] = plan.needs.map(() => 'pending');
  return drive(plan, states, (decide) => {
    plan.needs.forEach((needs, index) => {
      if (states[index] === 'pending' && needs.every((need) => states[need] === 'done')) decide(index);
    });
  });
}

function byQueue(plan: Plan): number[][] {
  const states: State[] = plan.needs.map(() => 'pending');
  const ids = plan.needs.map((_, index) => `t${index}`);
  const queue = new ReadyQueue(
    plan.needs.map((needs) => needs.map((need) => `t${need}`)),
    ids,
    () => false,
  );
  return drive(
    plan,
    states,
    (decide) =>
      queue.pass((index) => {
        if (states[index] === 'pending') decide(index);
      }),
    (index) => queue.setFinished(index, true),
  );
}

function drive(plan: Plan, states: State[], pass: (decide: (index: number) => void) => void, finished: (index: number) => void = () => undefined): number[][] {
  const passes: number[][] = [];
  for (let step = 0; step < 4 * plan.needs.length + 4; step += 1) {
    const decided: number[] = [];
    pass((index) => {
      decided.push(index);
      states[index] = plan.skips[index] ? 'done' : 'running';
      if (plan.skips[index]) finished(index);
    });
    passes.push(decided);
    const running = states.flatMap((state, index) => (state === 'running' ? [index] : []));
    if (running.length === 0) break;
    const done = running[(plan.finishes[step] ?? 0) % running.length] ?? 0;
    states[done] = 'done';
    finished(done);
  }
  return passes;
}

const plans = fc.integer({ min: 1, max: 40 }).chain((count) =>
  fc.record({
    needs: fc.tuple(...Array.from({ length: count }, (_, index) => fc.uniqueArray(fc.integer({ min: 0, max: Math.max(0, index - 1) }), { maxLength: index === 0 ? 0 : 4 }))),
    skips: fc.array(fc.boolean(), { minLength: count, maxLength: count }),
    finishes: fc.array(fc.nat(), { minLength: 4 * count + 4, maxLength: 4 * count + 4 }),
  }),
);

describe('the ready queue decides tasks as a scan of every task would', () => {
  it('hands out the same tasks in the same order on every step, skips finishing tasks within a pass included', () => {
    fc.assert(fc.property(plans, (plan) => assert.deepEqual(byQueue(plan as Plan), byScan(plan as Plan))), { numRuns: 500 });
  });

  it('defers a task that becomes ready behind the current one to the next pass, as the scan did', () => {
    // t0 waits on t2; t2 is skipped when decided, after the pass has passed t0.
    const plan: Plan = { needs: [[2], [], []], skips: [false, false, true], finishes: [0, 0, 0, 0] };
    assert.deepEqual(byQueue(plan)[0], [1, 2]);
    assert.deepEqual(byQueue(plan), byScan(plan));
  });

  it('never hands out a task whose upstream is missing from the DAG, and counts it unfinished', () => {
    const queue = new ReadyQueue([['ghost'], []], ['a', 'b'], () => false);
    const decided: number[] = [];
    queue.pass((index) => decided.push(index));
    queue.setFinished(1, true);
    queue.pass((index) => decided.push(index));
    assert.deepEqual(decided, [1]);
    assert.equal(queue.allFinished, false);
  });
});
