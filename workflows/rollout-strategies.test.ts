import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { batchConcurrency, countOf, normaliseTargets, overErrorRate, overThreshold, planBatches, thresholdProblems } from './rollout-strategies';

const hosts = (count: number) => normaliseTargets(Array.from({ length: count }, (_, index) => `hv${index + 1}`));
const names = (batches: { name: string }[][]) => batches.map((batch) => batch.map((target) => target.name));

describe('rollout planning', () => {
  it('cuts canary steps cumulatively and implies a last step to 100%', () => {
    assert.deepEqual(names(planBatches('canary', hosts(4), { steps: [1, '50%', '100%'], batchSize: 1 })), [['hv1'], ['hv2'], ['hv3', 'hv4']]);
    assert.deepEqual(names(planBatches('canary', hosts(4), { steps: [1], batchSize: 1 })), [['hv1'], ['hv2', 'hv3', 'hv4']]);
    assert.deepEqual(names(planBatches('canary', hosts(10), { steps: [1, '25%'], batchSize: 1 })), [['hv1'], ['hv2', 'hv3'], ['hv4', 'hv5', 'hv6', 'hv7', 'hv8', 'hv9', 'hv10']]);
    assert.deepEqual(names(planBatches('canary', hosts(2), { steps: ['10%', 1, '100%'], batchSize: 1 })), [['hv1'], ['hv2']], 'steps that add nobody are dropped');
  });

  it('cuts rolling batches by size and runs blue-green and all-at-once as one batch', () => {
    assert.deepEqual(names(planBatches('rolling', hosts(7), { batchSize: 3 })).map((batch) => batch.length), [3, 3, 1]);
    assert.deepEqual(names(planBatches('rolling', hosts(4), { batchSize: '50%' })).map((batch) => batch.length), [2, 2]);
    assert.equal(planBatches('blue-green', hosts(3), { batchSize: 1 }).length, 1);
    assert.equal(planBatches('all-at-once', hosts(3), { batchSize: 1 }).length, 1);
  });

  it('limits only rolling batches by maxUnavailable', () => {
    assert.equal(batchConcurrency('rolling', 4, 2, 4), 2);
    assert.equal(batchConcurrency('rolling', 4, '25%', 8), 2);
    assert.equal(batchConcurrency('rolling', 4, 0, 4), 1, 'at least one target moves');
    assert.equal(batchConcurrency('all-at-once', 4, 1, 4), 4);
  });

  it('decides thresholds by count, share and batch error rate', () => {
    assert.equal(countOf('25%', 10), 3);
    assert.equal(overThreshold(1, 0, 4), true);
    assert.equal(overThreshold(1, 1, 4), false);
    assert.equal(overThreshold(1, '10%', 4), true, '10% of 4 tolerates none');
    assert.equal(overThreshold(1, '25%', 4), false);
    assert.equal(overErrorRate(1, 2, '40%'), true);
    assert.equal(overErrorRate(1, 4, '40%'), false);
    assert.equal(overErrorRate(3, 4, undefined), false);
  });

  it('refuses a target listed twice and defaults its queue to its name', () => {
    assert.throws(() => normaliseTargets(['hv1', { name: 'hv1', queue: 'q' }]), /target "hv1" is listed twice/);
    assert.deepEqual(normaliseTargets(['hv1', { name: 'hv2', queue: 'q2' }]), [{ name: 'hv1', queue: 'hv1' }, { name: 'hv2', queue: 'q2' }]);
  });

  it('reads analysis thresholds out of check outputs by dotted path', () => {
    const outputs = { load: { '1m': 3.5 }, memory: { usedPercent: 42 }, disks: [{ usedPercent: '91' }], ready: true };
    assert.deepEqual(thresholdProblems(outputs, { 'load.1m': { max: 4 }, 'memory.usedPercent': { min: 10, max: 90 }, ready: { equals: true } }), []);
    assert.deepEqual(thresholdProblems(outputs, { 'load.1m': { max: 2 }, 'disks.0.usedPercent': { max: 90 }, 'memory.missing': { max: 1 }, ready: { equals: false } }), [
      'load.1m is 3.5, above 2',
      'disks.0.usedPercent is 91, above 90',
      'memory.missing is undefined, not a number',
      'ready is true, expected false',
    ]);
    assert.deepEqual(thresholdProblems(outputs, undefined), []);
  });
});
