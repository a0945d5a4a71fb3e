import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { StreamRedactor, createRedactor, redactDeep, redactFailure, secretEnvValues } from './redact';

test('replaces every occurrence of every secret, longest first', () => {
  const redact = createRedactor(['abc', 'abcdef', '', 'x.y']);
  assert.equal(redact('abcdef abc xzy x.y'), '*** *** xzy ***');
  assert.equal(createRedactor([])('untouched'), 'untouched');
});

test('picks secret values by env key name', () => {
  const env = { API_TOKEN: 't', ssh_key: 'k', DB_PASSWD: 'p', AWS_CREDENTIALS: 'c', CLIENT_SECRET: 's', HOST: 'h' };
  assert.deepEqual(secretEnvValues(env).sort(), ['c', 'k', 'p', 's', 't']);
});

test('redacts a secret that is split across stream chunks', () => {
  const stream = new StreamRedactor(['hunter2-secret']);
  const pieces = ['password is hun', 'ter2-sec', 'ret\nbye ', 'hunter2-secret'].map((chunk) => stream.write(chunk));
  const text = pieces.join('') + stream.end();
  assert.equal(text, 'password is ***\nbye ***');
});

test('redacts the base64 form of a secret wherever it sits in a longer encoded text, and its URL-encoded form', () => {
  const secret = 'p@ss word/with+symbols=42';
  const redact = createRedactor([secret]);
  for (const prefix of ['', 'x', 'xy', 'xyz']) {
    for (const suffix of ['', '\n', 'tail']) {
      for (const alphabet of ['base64', 'base64url'] as const) {
        const encoded = Buffer.from(`${prefix}${secret}${suffix}`).toString(alphabet);
        // Characters 8..20 encode bytes of the secret only, at this alignment.
        const middle = Buffer.from(`${prefix}${secret}`).toString(alphabet).slice(8, 20);
        assert.ok(encoded.includes(middle));
        assert.ok(!redact(encoded).includes(middle), `${alphabet} of ${JSON.stringify(prefix + secret + suffix)}: ${redact(encoded)}`);
      }
    }
  }
  assert.equal(redact(`q=${encodeURIComponent(secret)}&x`), 'q=***&x');
});

test('redacts encoded forms of short secrets only as written, so ordinary text survives', () => {
  const redact = createRedactor(['abc']);
  assert.equal(redact(`abc ${Buffer.from('abc').toString('base64')}`), `*** ${Buffer.from('abc').toString('base64')}`);
});

test('redacts a base64 form split across stream chunks', () => {
  const secret = 'stream-secret-0123456789';
  const encoded = Buffer.from(`${secret}\n`).toString('base64');
  const stream = new StreamRedactor([secret]);
  const text = [encoded.slice(0, 7), encoded.slice(7, 19), `${encoded.slice(19)}\n`].map((chunk) => stream.write(chunk)).join('') + stream.end();
  assert.ok(!text.includes(encoded.slice(4, 28)), text);
  assert.match(text, /\*\*\*/);
});

test('redacts a failure of any kind and keeps its type, retryability and cause chain', () => {
  const redact = createRedactor(['top-secret-value']);
  const plain = redactFailure(new TypeError('bad top-secret-value'), redact);
  assert.ok(plain instanceof ApplicationFailure);
  assert.equal(plain.type, 'TypeError');
  assert.equal(plain.nonRetryable, false);
  assert.equal(plain.message, 'bad ***');
  const nested = redactFailure(ApplicationFailure.create({ type: 'X', message: 'm', nonRetryable: true, details: [{ deep: { deeper: ['top-secret-value'] } }], cause: new Error('c top-secret-value', { cause: new Error('cc top-secret-value') }) }), redact);
  assert.ok(nested instanceof ApplicationFailure);
  assert.equal(nested.nonRetryable, true);
  assert.deepEqual(nested.details, [{ deep: { deeper: ['***'] } }]);
  assert.equal(nested.cause?.message, 'c ***');
  assert.equal((nested.cause?.cause as Error | undefined)?.message, 'cc ***');
  const cancelled = new CancelledFailure('cancelled');
  assert.equal(redactFailure(cancelled, redact), cancelled);
});

test('redacts values nested deeper than the walk goes by replacing them whole', () => {
  let deep: unknown = 'top-secret-value';
  for (let level = 0; level < 100; level += 1) deep = [deep];
  assert.ok(!JSON.stringify(redactDeep(deep, createRedactor(['top-secret-value']))).includes('top-secret-value'));
});
