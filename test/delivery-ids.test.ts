import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeliveryIds } from '../api/delivery-ids';

describe('remembered delivery ids', () => {
  it('answers a repeated id as seen before and a new one as not', () => {
    const ids = new DeliveryIds(10);
    assert.equal(ids.seenBefore('github:a'), false);
    assert.equal(ids.seenBefore('github:a'), true);
    assert.equal(ids.seenBefore('github:b'), false);
  });

  it('never holds more than its capacity however many distinct ids arrive, forgetting the oldest first', () => {
    const ids = new DeliveryIds(100);
    for (let index = 0; index < 10_000; index += 1) ids.seenBefore(`github:${index}`);
    assert.equal(ids.size, 100);
    assert.equal(ids.seenBefore('github:9999'), true, 'the newest are kept');
    assert.equal(ids.seenBefore('github:0'), false, 'the oldest were forgotten');
    assert.equal(ids.size, 100);
  });

  it('takes a forgotten id again (a delivery Temporal did not take may be redelivered)', () => {
    const ids = new DeliveryIds(10);
    ids.seenBefore('github:a');
    ids.forget('github:a');
    assert.equal(ids.seenBefore('github:a'), false);
  });

  it('refuses a capacity that is not a positive integer', () => {
    for (const capacity of [0, -1, 1.5, Number.NaN]) assert.throws(() => new DeliveryIds(capacity), RangeError);
  });
});
