import assert from 'node:assert/strict';
import { test } from 'node:test';
import { durationError, parseDuration } from './duration';

test('parses single and compound durations into milliseconds', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('1.5s'), 1_500);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('2d'), 172_800_000);
});

test('rejects text that is not a duration and names it', () => {
  for (const text of ['', '30', 's', '5 minutes', '1h 30m', '-1s']) {
    assert.throws(() => parseDuration(text), /invalid duration/);
    assert.match(durationError(text) ?? '', new RegExp(`"${text}"`));
  }
  assert.equal(durationError('10s'), undefined);
});
