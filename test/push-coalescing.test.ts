import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AUDIT_WRITE_SPACING_MS, AuditBatches } from '../api/audit-batches';
import { PendingSyncs } from '../api/pending-syncs';
import { SyncSignals } from '../api/sync-signals';
import type { AuditEntry, AuditRecordInput } from '../client/audit';
import type { SyncRequestArgs } from '../workflows/repo-sync';

/**
 * How the front door turns a burst into few Temporal writes, with the write itself held in the test's hand
 * (the real signal and audit writes are exercised against Temporal in webhook-front-door.test.ts).
 */

interface HeldCall<T> {
  value: T;
  release: (error?: Error) => void;
}

/** A write that completes only when the test releases it, recording what each call carried. */
function heldWrites<T>(): { calls: HeldCall<T>[]; write: (value: T) => Promise<void> } {
  const calls: HeldCall<T>[] = [];
  return {
    calls,
    write: (value) =>
      new Promise<void>((resolve, reject) => {
        calls.push({ value, release: (error) => (error ? reject(error) : resolve()) });
      }),
  };
}

const settled = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * The `index`th write once it has been made. A retry waits on a timer the writer set in a later turn of the
 * event loop, so on a busy machine it may come after any fixed pause: wait for the write itself.
 */
async function callAt<T>(held: { calls: HeldCall<T>[] }, index: number): Promise<HeldCall<T>> {
  for (const began = Date.now(); Date.now() - began < 10_000; await new Promise((resolve) => setTimeout(resolve, 2))) {
    const call = held.calls[index];
    if (call) return call;
  }
  throw new Error(`write ${index + 1} was never made (${held.calls.length} made)`);
}

describe('sync signals of a burst of pushes', () => {
  it('sends one signal for the first push and one more for every push that arrived while it was in flight', async () => {
    const held = heldWrites<{ repo: string; args: SyncRequestArgs }>();
    const signals = new SyncSignals((repo, args) => held.write({ repo, args }), { spacingMs: 0 });
    const answered: number[] = [];
    const pushes = Array.from({ length: 20 }, (_, index) => signals.request('infra', { reason: `push ${index}`, deliveryId: `d${index}` }).then(() => answered.push(index)));
    await settled();
    assert.equal(held.calls.length, 1, 'one signal in flight');
    assert.equal(held.calls[0]?.value.args.deliveryId, 'd0');

    held.calls[0]?.release();
    await settled();
    assert.deepEqual(answered, [0], 'the pushes after the first wait for a signal sent after they arrived');
    assert.equal(held.calls.length, 2);
    assert.equal(held.calls[1]?.value.args.deliveryId, 'd19', 'the follow-up carries the newest delivery');

    held.calls[1]?.release();
    await Promise.all(pushes);
    assert.equal(answered.length, 20);
    assert.equal(signals.signalsSent, 2);
  });

  it('sends the follow-up no sooner than the spacing after the signal before it, with every push meanwhile in it', async () => {
    const held = heldWrites<{ repo: string; args: SyncRequestArgs }>();
    let clock = 10_000;
    const pauses: { ms: number; over: () => void }[] = [];
    const signals = new SyncSignals((repo, args) => held.write({ repo, args }), {
      spacingMs: 1_000,
      nowMs: () => clock,
      pause: (ms) => new Promise<void>((resolve) => pauses.push({ ms, over: resolve })),
    });
    const first = signals.request('infra', { reason: 'push 0', deliveryId: 'd0' });
    const second = signals.request('infra', { reason: 'push 1', deliveryId: 'd1' });
    await settled();
    clock += 150;
    held.calls[0]?.release();
    await first;
    await settled();
    assert.equal(held.calls.length, 1, 'the follow-up waits out the spacing');
    assert.deepEqual(pauses.map((pause) => pause.ms), [850], 'what is left of the spacing since the first signal left');
    const third = signals.request('infra', { reason: 'push 2', deliveryId: 'd2' });
    assert.equal(signals.inFlight('infra'), undefined, 'nothing is in flight while the spacing runs out');
    pauses[0]?.over();
    await settled();
    assert.equal(held.calls.length, 2);
    assert.equal(held.calls[1]?.value.args.deliveryId, 'd2', 'one follow-up carries the newest push, which arrived during the pause');
    held.calls[1]?.release();
    await Promise.all([second, third]);
    assert.equal(signals.signalsSent, 2);

    const afterQuiet = signals.request('infra', { reason: 'push 3' });
    await settled();
    assert.equal(held.calls.length, 3, 'a push after the burst has ended is signalled at once');
    held.calls[2]?.release();
    await afterQuiet;
  });

  it('lets a shared follow-up name a commit only when every push in it named that commit', async () => {
    const held = heldWrites<{ repo: string; args: SyncRequestArgs }>();
    const signals = new SyncSignals((repo, args) => held.write({ repo, args }), { spacingMs: 0 });
    const a = 'a'.repeat(40);
    const b = 'b'.repeat(40);
    const first = signals.request('infra', { reason: 'push', commit: a });
    const same = [signals.request('infra', { reason: 'push', commit: b }), signals.request('infra', { reason: 'push', commit: b })];
    await settled();
    held.calls[0]?.release();
    await first;
    await settled();
    assert.equal(held.calls[1]?.value.args.commit, b, 'two pushes of one commit: the follow-up names it');
    const mixed = [signals.request('infra', { reason: 'push', commit: b }), signals.request('infra', { reason: 'push', commit: a }), signals.request('infra', { reason: 'push', commit: a })];
    held.calls[1]?.release();
    await Promise.all(same);
    await settled();
    assert.equal(held.calls[2]?.value.args.commit, undefined, 'pushes of different commits (perhaps out of order): a plain sync');
    held.calls[2]?.release();
    await Promise.all(mixed);
  });

  it('keeps repositories apart', async () => {
    const held = heldWrites<string>();
    const signals = new SyncSignals((repo) => held.write(repo), { spacingMs: 0 });
    const both = [signals.request('a', { reason: 'push' }), signals.request('b', { reason: 'push' })];
    await settled();
    assert.deepEqual(held.calls.map((call) => call.value), ['a', 'b']);
    for (const call of held.calls) call.release();
    await Promise.all(both);
  });

  it('fails every push that shared a signal Temporal did not take, and starts afresh for the next push', async () => {
    const held = heldWrites<string>();
    const signals = new SyncSignals((repo) => held.write(repo), { spacingMs: 0 });
    const first = signals.request('infra', { reason: 'push 1' });
    const waiting = [signals.request('infra', { reason: 'push 2' }), signals.request('infra', { reason: 'push 3' })];
    await settled();
    held.calls[0]?.release();
    await first;
    await settled();
    held.calls[1]?.release(new Error('deadline exceeded'));
    for (const push of waiting) await assert.rejects(push, /deadline exceeded/);

    const later = signals.request('infra', { reason: 'push 4' });
    await settled();
    assert.equal(held.calls.length, 3, 'a new signal, not the failed one');
    held.calls[2]?.release();
    await later;
  });
});

describe('audit entries of accepted pushes', () => {
  const entry = (index: number): AuditRecordInput => ({ actor: 'webhook:github', via: 'webhook', action: 'repo.sync', target: 'infra', outcome: 'ok', detail: `delivery d${index}` });

  it('writes a burst in few batches, every entry once, each with the time it was added', async () => {
    const held = heldWrites<readonly AuditEntry[]>();
    const batches = new AuditBatches(held.write, () => assert.fail('nothing is lost'), { spacingMs: 0 });
    const early = new Date('2026-11-27T02:00:00Z');
    batches.add(entry(0), early);
    for (let index = 1; index < 450; index += 1) batches.add(entry(index));
    await settled();
    assert.equal(held.calls.length, 1);
    assert.deepEqual(held.calls[0]?.value.map((item) => item.detail), ['delivery d0']);
    assert.equal(held.calls[0]?.value[0]?.at, early.toISOString());
    const flushed = batches.flushed();
    for (let released = 0; released < held.calls.length; released += 1) {
      held.calls[released]?.release();
      await settled();
    }
    await flushed;
    const written = held.calls.flatMap((call) => call.value.map((item) => item.detail));
    assert.equal(written.length, 450);
    assert.equal(new Set(written).size, 450);
    assert.ok(held.calls.every((call) => call.value.length <= 200), 'no batch above the workflow limit');
    assert.ok(held.calls.length <= 4, `${held.calls.length} writes for 450 entries`);
  });

  it('spaces the writes of a steady trickle, and writes a full batch without waiting', async () => {
    const held = heldWrites<readonly AuditEntry[]>();
    const pauses: { ms: number; over: () => void }[] = [];
    let nowMs = 10_000;
    const batches = new AuditBatches(held.write, () => assert.fail('nothing is lost'), {
      nowMs: () => nowMs,
      pause: (ms) => new Promise<void>((resolve) => pauses.push({ ms, over: resolve })),
    });
    batches.add(entry(0));
    await settled();
    assert.equal(held.calls.length, 1, 'the first entry after a quiet spell is written at once');
    batches.add(entry(1));
    batches.add(entry(2));
    nowMs += 120;
    held.calls[0]?.release();
    await settled();
    assert.deepEqual(pauses.map((pause) => pause.ms), [AUDIT_WRITE_SPACING_MS - 120], 'what is left of the spacing since the first write left');
    assert.equal(held.calls.length, 1, 'no write during the pause');
    for (let index = 3; index < 3 + 400; index += 1) batches.add(entry(index));
    pauses[0]?.over();
    await settled();
    assert.deepEqual(held.calls[1]?.value.map((item) => item.detail).slice(0, 3), ['delivery d1', 'delivery d2', 'delivery d3'], 'the entries of the pause go together');
    assert.equal(held.calls[1]?.value.length, 200);
    held.calls[1]?.release();
    await settled();
    assert.equal(held.calls.length, 3, 'a full batch left behind is written without a pause');
    assert.equal(pauses.length, 1);
    held.calls[2]?.release();
    await settled();
    assert.equal(pauses.length, 2, 'the two entries left over wait for the spacing again');
    pauses[1]?.over();
    await settled();
    held.calls[3]?.release();
    await batches.flushed();
    assert.deepEqual(held.calls.map((call) => call.value.length), [1, 200, 200, 2]);
  });

  it('tries a failed write again, and reports its entries lost, with the reason, only when every attempt failed; then goes on with the next ones', async () => {
    const held = heldWrites<readonly AuditEntry[]>();
    const lost: { details: (string | undefined)[]; reason: string }[] = [];
    const batches = new AuditBatches(held.write, (entries, reason) => lost.push({ details: entries.map((item) => item.detail), reason }), { retryDelaysMs: [0, 0], spacingMs: 0 });
    batches.add(entry(1));
    await settled();
    batches.add(entry(2));
    for (let attempt = 0; attempt < 3; attempt += 1) (await callAt(held, attempt)).release(new Error('Temporal unreachable'));
    (await callAt(held, 3)).release();
    await batches.flushed();
    assert.deepEqual(held.calls.slice(0, 3).map((call) => call.value.map((item) => item.detail)), [['delivery d1'], ['delivery d1'], ['delivery d1']]);
    assert.deepEqual(lost, [{ details: ['delivery d1'], reason: 'Temporal unreachable (after 3 attempts)' }]);
    assert.deepEqual(held.calls[3]?.value.map((item) => item.detail), ['delivery d2']);
  });

  it('loses nothing when Temporal takes a write on a later attempt, and keeps the entries in order', async () => {
    const held = heldWrites<readonly AuditEntry[]>();
    const batches = new AuditBatches(held.write, () => assert.fail('nothing is lost'), { retryDelaysMs: [0, 0, 0], spacingMs: 0 });
    batches.add(entry(1));
    await settled();
    batches.add(entry(2));
    (await callAt(held, 0)).release(new Error('deadline exceeded'));
    (await callAt(held, 1)).release();
    (await callAt(held, 2)).release();
    await batches.flushed();
    assert.deepEqual(held.calls.map((call) => call.value.map((item) => item.detail)), [['delivery d1'], ['delivery d1'], ['delivery d2']]);
  });

  it('reports a malformed entry alone when it is added, and writes the others', async () => {
    const held = heldWrites<readonly AuditEntry[]>();
    const lost: { details: (string | undefined)[]; reason: string }[] = [];
    const batches = new AuditBatches(held.write, (entries, reason) => lost.push({ details: entries.map((item) => item.detail), reason }), { spacingMs: 0 });
    batches.add(entry(1));
    batches.add({ ...entry(2), actor: 'webhook:github\nforged-line', detail: 'secret-canary-7f3a' });
    batches.add({ ...entry(3), detail: `${'x'.repeat(100_000)}\u202e` });
    const flushed = batches.flushed();
    for (let released = 0; released < 2; released += 1) {
      await settled();
      held.calls[released]?.release();
    }
    await flushed;
    assert.equal(lost.length, 1);
    assert.deepEqual(lost[0]?.details, ['secret-canary-7f3a']);
    assert.match(lost[0]?.reason ?? '', /audit entry refused: actor/);
    const written = held.calls.flatMap((call) => call.value);
    assert.deepEqual(written.map((item) => item.detail?.slice(0, 12)), ['delivery d1', 'xxxxxxxxxxxx']);
    assert.ok((written[1]?.detail?.length ?? 0) <= 2000, 'free text is bounded');
    assert.ok(!written[1]?.detail?.includes('\u202e'), 'hidden characters are escaped');
  });
});

describe('pushes answered from a note on disk', () => {
  const directories: string[] = [];
  after(() => {
    for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  });
  const setUp = (): { directory: string; held: ReturnType<typeof heldWrites<string>>; pending: PendingSyncs; errors: unknown[] } => {
    const directory = mkdtempSync(path.join(tmpdir(), 'qubinode-sync-due-'));
    directories.push(directory);
    const held = heldWrites<string>();
    const errors: unknown[] = [];
    const pending = new PendingSyncs({ directory, signals: new SyncSignals((repo) => held.write(repo), { spacingMs: 0 }), isGone: (error) => (error as Error).message === 'gone', onError: (_repo, error) => errors.push(error) });
    return { directory, held, pending, errors };
  };
  const notes = (directory: string): string[] => readdirSync(directory).map((file) => readFileSync(path.join(directory, file), 'utf8'));

  it('makes the first push wait for its signal, then answers pushes from the note while Temporal takes signals, and removes the note once a signal covers the newest', async () => {
    const { directory, held, pending } = setUp();
    let firstAnswered = false;
    const first = pending.accept('infra', { reason: 'push 1' }).then(() => (firstAnswered = true));
    await settled();
    assert.equal(firstAnswered, false, 'nothing shows yet that Temporal takes signals');
    assert.deepEqual(notes(directory), []);
    held.calls[0]?.release();
    await first;

    await pending.accept('infra', { reason: 'push 2' });
    await pending.accept('infra', { reason: 'push 3' });
    assert.deepEqual(notes(directory), ['infra'], 'answered with the sync noted on disk, before Temporal took it');
    await settled();
    held.calls[1]?.release();
    await settled();
    assert.deepEqual(notes(directory), ['infra'], 'push 3 arrived after that signal went out: still noted');
    held.calls[2]?.release();
    await settled();
    assert.deepEqual(notes(directory), [], 'covered: the note is gone');
    pending.close();
  });

  it('signals at start what a killed process noted, and drops the note of a repository that is gone', async () => {
    const { directory, held, pending } = setUp();
    writeFileSync(path.join(directory, 'a'.repeat(32) + '.sync-due'), 'infra');
    writeFileSync(path.join(directory, 'b'.repeat(32) + '.sync-due'), 'removed-repo');
    const resumed = pending.resume();
    await settled();
    held.calls[0]?.release();
    await settled();
    held.calls[1]?.release(new Error('gone'));
    assert.equal(await resumed, 2);
    assert.deepEqual(held.calls.map((call) => call.value), ['infra', 'removed-repo']);
    assert.deepEqual(readdirSync(directory), []);
    pending.close();
  });

  it('answers the pushes that arrived while the first signal was in flight once Temporal takes it, and sends their shared signal after', async () => {
    const { directory, held, pending } = setUp();
    const answered: number[] = [];
    const pushes = [1, 2, 3, 4].map((push) => pending.accept('infra', { reason: `push ${push}` }).then(() => answered.push(push)));
    await settled();
    assert.deepEqual(answered, [], 'nothing shows yet that Temporal takes signals');
    assert.equal(held.calls.length, 1, 'one signal on its way, the others share the next');
    held.calls[0]?.release();
    await Promise.all(pushes);
    assert.deepEqual(answered.sort(), [1, 2, 3, 4], 'answered before their own signal was taken');
    assert.deepEqual(notes(directory), ['infra'], 'pushes 2-4 are noted until a signal sent after them is taken');
    assert.equal(held.calls.length, 2);
    held.calls[1]?.release();
    await settled();
    assert.deepEqual(notes(directory), []);
    pending.close();
  });

  it('gives every push of that first moment the failure when Temporal does not take the first signal', async () => {
    const { directory, held, pending } = setUp();
    const outcomes = [1, 2, 3].map((push) => pending.accept('infra', { reason: `push ${push}` }).then(
      () => 'answered',
      (error: Error) => error.message,
    ));
    await settled();
    held.calls[0]?.release(new Error('deadline exceeded'));
    await settled();
    held.calls[1]?.release(new Error('deadline exceeded'));
    assert.deepEqual(await Promise.all(outcomes), ['deadline exceeded', 'deadline exceeded', 'deadline exceeded'], 'each sender gets a 503, none a 202');
    assert.deepEqual(notes(directory), [], 'nothing was answered, so nothing is noted');
    pending.close();
  });

  it('counts a signal taken for one repository as Temporal taking them: the first push to another is answered from its note', async () => {
    const { directory, held, pending } = setUp();
    const first = pending.accept('infra', { reason: 'push 1' });
    await settled();
    held.calls[0]?.release();
    await first;
    await pending.accept('apps', { reason: 'push 1' });
    assert.deepEqual(notes(directory), ['apps']);
    await settled();
    held.calls[1]?.release();
    await settled();
    assert.deepEqual(notes(directory), []);
    pending.close();
  });

  it('drops damaged notes at start without signalling anything they name', async () => {
    const { directory, held, pending } = setUp();
    const damaged = ['', 'x'.repeat(257), 'infra\nother', 'in\0fra', 'infra\r'];
    damaged.forEach((content, index) => writeFileSync(path.join(directory, `${String(index).repeat(32)}.sync-due`), content));
    writeFileSync(path.join(directory, 'unrelated.txt'), 'infra');
    assert.equal(await pending.resume(), damaged.length);
    assert.deepEqual(held.calls, [], 'no signal for a damaged note');
    assert.deepEqual(readdirSync(directory), ['unrelated.txt'], 'damaged notes removed, other files left alone');
    pending.close();
  });

  it('keeps the note when Temporal stops taking signals, makes the next push wait for its own, and keeps names out of file paths', async () => {
    const { directory, held, pending, errors } = setUp();
    const hostile = '../../outside/infra';
    const first = pending.accept(hostile, { reason: 'push 1' });
    await settled();
    held.calls[0]?.release();
    await first;
    await pending.accept(hostile, { reason: 'push 2' });
    await settled();
    held.calls[1]?.release(new Error('deadline exceeded'));
    await settled();
    assert.equal(errors.length, 1);
    assert.deepEqual(notes(directory), [hostile], 'noted inside the directory under a hashed name');
    assert.ok(!existsSync(path.join(directory, '..', '..', 'outside')));

    const third = pending.accept(hostile, { reason: 'push 3' });
    await settled();
    held.calls[2]?.release(new Error('deadline exceeded'));
    await assert.rejects(third, /deadline exceeded/, 'the sender gets the failure (a 503), not a 202');
    pending.close();
  });
});
