import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StreamRedactor, createRedactor, secretEnvValues } from './redact';

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
