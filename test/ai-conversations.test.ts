import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { runIdIn } from '../ai/ask';
import { ConversationError, ConversationStore } from '../ai/conversations';

const dir = mkdtempSync(path.join(tmpdir(), 'qubinode-conversations-'));
const turn = (n: number) => ({ question: `question ${n}`, answer: `answer ${n}`, toolCalls: [], at: new Date(0).toISOString() });

describe('conversations of qubinode ai ask', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the turns of a conversation in order, owner-only, and at most the last 20', () => {
    const store = new ConversationStore(path.join(dir, 'store'));
    const id = store.start();
    assert.match(id, /^[0-9a-f]{16}$/);
    for (let n = 1; n <= 23; n += 1) store.append(id, turn(n));
    const turns = store.turns(id);
    assert.equal(turns.length, 20);
    assert.equal(turns[0]?.question, 'question 4');
    assert.equal(turns[19]?.question, 'question 23');
    assert.equal(statSync(path.join(dir, 'store', `${id}.json`)).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(path.join(dir, 'store')), [`${id}.json`], 'no staging file is left');
  });

  it('refuses an id that is not 16 hex digits before touching the file system, and an unknown one', () => {
    const store = new ConversationStore(path.join(dir, 'store'));
    writeFileSync(path.join(dir, 'secret.json'), '{"id":"x","turns":[]}');
    for (const hostile of ['../secret', '../../../../etc/passwd', '%2e%2e%2fsecret', 'ABCDEF0123456789', '0123456789abcdef/..', '', 'x'.repeat(5000)]) {
      assert.throws(() => store.turns(hostile), (error: Error) => error instanceof ConversationError && /16 hex digits/.test(error.message), hostile.slice(0, 30));
      assert.throws(() => store.append(hostile, turn(1)), ConversationError);
    }
    assert.throws(() => store.turns('0123456789abcdef'), /no conversation 0123456789abcdef/);
    assert.equal(existsSync(path.join(dir, 'store', '..', '..', 'etc')), false);
  });

  it('refuses a conversation file that is not one (damaged or planted)', () => {
    const store = new ConversationStore(path.join(dir, 'store'));
    writeFileSync(path.join(dir, 'store', 'aaaaaaaaaaaaaaaa.json'), JSON.stringify({ id: 'a', turns: [{ question: 'q', answer: 'x'.repeat(9000), toolCalls: [], at: '' }] }));
    assert.throws(() => store.turns('aaaaaaaaaaaaaaaa'), /damaged/);
  });

  it('finds the run a question is about in the question, else in the conversation before it', () => {
    assert.equal(runIdIn('why did dag/examples/failure-demo/20261128-041500-ab12 fail?', []), 'dag/examples/failure-demo/20261128-041500-ab12');
    assert.equal(runIdIn('and examples/hello/20261128-041500-zz99?', []), 'examples/hello/20261128-041500-zz99');
    assert.equal(runIdIn('which task failed?', [{ ...turn(1), question: 'why did dag/test/ask-fail/run-1 fail?' }]), 'dag/test/ask-fail/run-1');
    assert.equal(runIdIn('how do retries work?', [turn(1)]), undefined);
  });
});
