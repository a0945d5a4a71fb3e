import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AuditEntryError, listAudit, listAuditWithNotes, recordAudit, type AuditRecordInput } from '../client/audit';
import { AUDIT_LIMITS, type AuditFilter } from '../workflows/audit-entry';
import { AUDIT_TASK_QUEUE } from '../workflows/audit-ids';
import { auditShardId } from '../workflows/workflow-ids';
import { AUDIT_SHARD_MAX_BYTES, AUDIT_SHARD_PUSH_SHARE, type AuditShardView } from '../workflows/audit-log';
import { qubinodeFromSource } from './support/cli';
import { startTestEngine, type TestEngine } from './support/engine';
import { until } from './support/waiting';

// Every test names its own actor, so entries recorded by other test files in the same hour do not
// disturb the assertions: the audit log is one per cluster, as in production.
const someone = (): string => `tester-${randomUUID().slice(0, 8)}`;
const entry = (actor: string, extra: Partial<AuditRecordInput> = {}): AuditRecordInput => ({ actor, via: 'api', action: 'run.start', target: 'dag/examples/hello/k1', outcome: 'ok', ...extra });

/** Waits until `count` entries of `actor` are listed (signal-with-start returns before the workflow task ran). */
async function listedFor(engine: TestEngine, actor: string, count: number) {
  let listed = await listAudit(engine.client, { user: actor });
  await until(
    async () => {
      listed = await listAudit(engine.client, { user: actor });
      return listed.length >= count;
    },
    30_000,
    `${count} audit entries of ${actor}`,
  );
  return listed;
}

async function laterThan(time: number): Promise<void> {
  await until(() => Date.now() > time + 5, 1000, 'the clock to move on');
}

describe('audit trail', { concurrency: true }, () => {
  let engine: TestEngine;
  before(async () => {
    engine = await startTestEngine();
  });
  after(async () => {
    await engine.close();
  });

  it('lists an entry recorded through recordAudit through listAudit and `qubinode audit --json`, newest first', async () => {
    const actor = someone();
    await recordAudit(engine.client, entry(actor, { action: 'run.start', target: 'dag/a/1', from: '127.0.0.1' }));
    await laterThan(Date.now());
    await recordAudit(engine.client, entry(actor, { action: 'run.cancel', target: 'dag/a/1', onBehalfOf: 'alice', detail: 'stuck' }));
    const listed = await listedFor(engine, actor, 2);
    assert.deepEqual(
      listed.map((found) => [found.action, found.target, found.outcome, found.via]),
      [
        ['run.cancel', 'dag/a/1', 'ok', 'api'],
        ['run.start', 'dag/a/1', 'ok', 'api'],
      ],
    );
    assert.equal(listed[0]?.onBehalfOf, 'alice');
    assert.equal(listed[0]?.detail, 'stuck');
    assert.equal(listed[1]?.from, '127.0.0.1');
    assert.ok(Math.abs(Date.parse(listed[1]?.at ?? '') - Date.now()) < 10 * 60_000, 'stamped with the recording clock');

    const cli = await qubinodeFromSource(['audit', '--user', actor, '--json']);
    assert.equal(cli.code, 0, cli.stderr);
    const printed = JSON.parse(cli.stdout) as { action: string; actor: string }[];
    assert.deepEqual(printed.map((found) => [found.actor, found.action]), [[actor, 'run.cancel'], [actor, 'run.start']]);
    const text = await qubinodeFromSource(['audit', '--user', 'alice', '--action', 'run.cancel', '--since', '1h']);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, new RegExp(`${actor} \\(for alice\\)`), 'an entry done for someone lists under their name too');
  });

  it('refuses a malformed --since or --limit with a usage error, before asking Temporal', async () => {
    for (const args of [['--since', 'yesterday'], ['--since', '2h; rm -rf /'], ['--since', '9999999h'], ['--limit', '0'], ['--limit', '1e9'], ['--limit', '5000']]) {
      const result = await qubinodeFromSource(['audit', ...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, /--(since|limit) expects/);
    }
  });

  it('filters entries by user, by action (exact or a family ending in a dot) and by since', async () => {
    const [ann, ben] = [someone(), someone()];
    await recordAudit(engine.client, entry(ann, { action: 'repo.add', target: 'infra' }));
    await recordAudit(engine.client, entry(ben, { action: 'repo.sync', target: 'infra' }));
    await listedFor(engine, ann, 1);
    await listedFor(engine, ben, 1);
    const cut = Date.now();
    await laterThan(cut);
    await recordAudit(engine.client, entry(ann, { action: 'approval.reject', target: 'dag/b/2', outcome: 'refused' }));
    await listedFor(engine, ann, 2);

    assert.deepEqual((await listAudit(engine.client, { user: ben })).map((found) => found.action), ['repo.sync']);
    assert.deepEqual((await listAudit(engine.client, { user: ann, action: 'repo.add' })).map((found) => found.action), ['repo.add']);
    assert.deepEqual((await listAudit(engine.client, { user: ann, action: 'approval.' })).map((found) => found.outcome), ['refused']);
    assert.deepEqual((await listAudit(engine.client, { user: ann, since: new Date(cut) })).map((found) => found.action), ['approval.reject']);
    assert.deepEqual((await listAudit(engine.client, { user: ann, limit: 1 })).map((found) => found.action), ['approval.reject']);
    assert.equal((await listAudit(engine.client, { user: ann, since: new Date(Date.now() + 60_000) })).length, 0);
  });

  it('refuses an actor with a newline, invisible characters or blanks around it, and an unknown outcome', async () => {
    const forged = `${someone()}\n2026-01-01T00:00:00Z admin run.start ok`;
    await assert.rejects(recordAudit(engine.client, entry(forged)), (error: Error) => error instanceof AuditEntryError && /actor: must not contain control/.test(error.message));
    await assert.rejects(recordAudit(engine.client, entry(`bob\u202Eeht`)), AuditEntryError, 'a bidi override could make one name read as another');
    await assert.rejects(recordAudit(engine.client, entry(' bob')), AuditEntryError);
    await assert.rejects(recordAudit(engine.client, entry('x'.repeat(AUDIT_LIMITS.name + 1))), AuditEntryError);
    await assert.rejects(recordAudit(engine.client, entry(someone(), { onBehalfOf: 'eve\r\nroot' })), AuditEntryError);
    await assert.rejects(recordAudit(engine.client, entry(someone(), { action: 'run start; rm -rf /' })), AuditEntryError);
    await assert.rejects(recordAudit(engine.client, entry(someone(), { via: 'API\n' })), AuditEntryError);
    await assert.rejects(recordAudit(engine.client, { ...entry(someone()), outcome: 'maybe' } as unknown as AuditRecordInput), AuditEntryError);
    await assert.rejects(recordAudit(engine.client, entry(someone(), { target: '' })), AuditEntryError);
  });

  it('keeps an oversized or multi-line detail and target on one escaped, bounded line', async () => {
    const actor = someone();
    const detail = `first line\nforged line\u001b[31m red ${'y'.repeat(100_000)}`;
    await recordAudit(engine.client, entry(actor, { detail, target: `run\r\nother`, from: '10.0.0.1\n' }));
    const [stored] = await listedFor(engine, actor, 1);
    assert.ok(stored);
    assert.ok((stored.detail ?? '').length <= AUDIT_LIMITS.detail, 'the detail is cut to its limit');
    assert.match(stored.detail ?? '', /^first line\\u000aforged line\\u001b\[31m red y+…\[\d+ more chars\]$/);
    assert.equal(stored.target, 'run\\u000d\\u000aother');
    assert.equal(stored.from, '10.0.0.1\\u000a');
    assert.doesNotMatch(JSON.stringify(stored), /[\n\r\u001b]/);
  });

  it('counts a signal that is not a valid entry as rejected and never stores it', async () => {
    const actor = someone();
    const shard = auditShardId(new Date());
    const before = await engine.client.workflow.getHandle(shard).query<AuditShardView, [AuditFilter]>('entries', { limit: 1 }).catch(() => undefined);
    // Anyone who can reach Temporal can signal the log directly, around recordAudit's checks.
    await engine.client.workflow.signalWithStart('auditLog', {
      workflowId: shard,
      taskQueue: AUDIT_TASK_QUEUE,
      args: [{ shard }],
      signal: 'record',
      signalArgs: [{ at: new Date().toISOString(), actor: `${actor}\nadmin`, via: 'api', action: 'run.start', target: 'x', outcome: 'ok' }],
    });
    await until(
      async () => {
        const view = await engine.client.workflow.getHandle(shard).query<AuditShardView, [AuditFilter]>('entries', { limit: 1 });
        return view.rejected > (before?.rejected ?? 0);
      },
      30_000,
      'the forged entry to be counted as rejected',
    );
    assert.equal((await listAudit(engine.client, { user: `${actor}\nadmin` })).length, 0);
  });

  it('continues as new when its history grows, carrying every entry and the counts', async () => {
    const hour = new Date(Date.UTC(2002, 0, 1 + Math.floor(Math.random() * 360), Math.floor(Math.random() * 24)));
    const shard = auditShardId(hour);
    const actor = someone();
    // On this engine's own queue: only this process's workers (and code) serve it.
    const handle = await engine.client.workflow.start('auditLog', { workflowId: shard, taskQueue: engine.taskQueue, args: [{ shard, closeAt: new Date(Date.now() + 3_600_000).toISOString(), eventsPerRun: 12 }] });
    try {
      await handle.signal('record', { actor: 'forged' });
      for (let index = 0; index < 20; index += 1) {
        await handle.signal('record', { at: new Date(hour.getTime() + index * 1000).toISOString(), actor, via: 'api', action: 'run.start', target: `run-${index}`, outcome: 'ok' });
      }
      let view: AuditShardView | undefined;
      await until(
        async () => {
          view = await handle.query<AuditShardView, [AuditFilter]>('entries', { user: actor, limit: 100 });
          return view.total >= 20;
        },
        60_000,
        'all twenty entries to be held',
      );
      assert.deepEqual(view?.entries.map((found) => found.target), Array.from({ length: 20 }, (_, index) => `run-${19 - index}`), 'every entry carried, newest first');
      assert.equal(view?.rejected, 1, 'the rejected count is carried too');
      await until(async () => (await handle.describe()).runId !== handle.firstExecutionRunId, 30_000, 'the log to continue as new');
      const first = await engine.client.workflow.getHandle(shard, handle.firstExecutionRunId).describe();
      assert.equal(first.status.name, 'CONTINUED_AS_NEW');
    } finally {
      await handle.terminate('test done');
    }
  });

  it('drops entries once an hour is full and says so in the query and the listing', async () => {
    // An hour of its own in the past, already nearly full, kept open for the test: the bound is
    // reached without thousands of signals.
    const hour = new Date(Date.UTC(2001, 0, 1 + Math.floor(Math.random() * 360), Math.floor(Math.random() * 24)));
    const shard = auditShardId(hour);
    const late = someone();
    const filler = { at: hour.toISOString(), actor: 'filler', via: 'api', action: 'run.start', target: 't', outcome: 'ok', detail: 'z'.repeat(1900) };
    const size = JSON.stringify(filler).length + 1;
    const entries = Array.from({ length: Math.floor(AUDIT_SHARD_MAX_BYTES / size) }, () => filler);
    const handle = await engine.client.workflow.start('auditLog', { workflowId: shard, taskQueue: engine.taskQueue, args: [{ shard, entries, closeAt: new Date(Date.now() + 3_600_000).toISOString() }] });
    try {
      await handle.signal('record', { ...filler, actor: late, detail: 'y'.repeat(1900) });
      await handle.signal('record', { ...filler, actor: late, detail: 'w'.repeat(1900) });
      let view: AuditShardView | undefined;
      await until(
        async () => {
          view = await handle.query<AuditShardView, [AuditFilter]>('entries', { user: late });
          return view.dropped >= 2;
        },
        90_000,
        'the full hour to count dropped entries',
      );
      assert.equal(view?.entries.length, 0, 'nothing past the bound is stored');
      assert.equal(view?.total, entries.length);
      let dropped: { shard: string; count: number }[] = [];
      await until(
        async () => {
          dropped = (await listAuditWithNotes(engine.client, { since: hour, user: late })).dropped;
          return dropped.some((note) => note.shard === shard);
        },
        90_000,
        'the listing to name the full hour',
      );
      assert.deepEqual(dropped.find((note) => note.shard === shard), { shard, count: 2 });
    } finally {
      await handle.terminate('test done');
    }
  });

  it('lets forge push deliveries fill at most half of an hour, so a flood of pushes leaves room for people', async () => {
    const hour = new Date(Date.UTC(2002, 0, 1 + Math.floor(Math.random() * 360), Math.floor(Math.random() * 24)));
    const shard = auditShardId(hour);
    const person = someone();
    const push = { at: hour.toISOString(), actor: 'webhook:github', via: 'webhook', action: 'repo.sync', target: 'infra', outcome: 'ok', detail: 'p'.repeat(1900) };
    const size = JSON.stringify(push).length + 1;
    // Pushes already fill their half of the hour's bytes.
    const entries = Array.from({ length: Math.floor((AUDIT_SHARD_MAX_BYTES * AUDIT_SHARD_PUSH_SHARE) / size) }, () => push);
    const handle = await engine.client.workflow.start('auditLog', { workflowId: shard, taskQueue: engine.taskQueue, args: [{ shard, entries, closeAt: new Date(Date.now() + 3_600_000).toISOString() }] });
    try {
      // One more batch of pushes, as the webhook receiver sends them, then a person's action.
      await handle.signal('record', [push, push, push]);
      await handle.signal('record', { ...push, actor: person, via: 'api', action: 'run.start', detail: 'by hand' });
      let view: AuditShardView | undefined;
      await until(
        async () => {
          view = await handle.query<AuditShardView, [AuditFilter]>('entries', {});
          return view.total + view.dropped === entries.length + 4;
        },
        90_000,
        'the shard to take the batch and the person\'s entry',
      );
      assert.equal(view?.dropped, 3, 'the pushes past their half are dropped');
      assert.equal(view?.total, entries.length + 1, 'the person\'s action is kept');
      assert.equal(view?.entries[0]?.actor, person);
    } finally {
      await handle.terminate('test done');
    }
  });
});

describe('audit trail across a restart', () => {
  it('still lists an entry after every worker of the engine stopped and a new one started', async () => {
    const actor = someone();
    const first = await startTestEngine();
    try {
      await recordAudit(first.client, entry(actor, { action: 'repo.remove', target: 'old-repo' }));
      await listedFor(first, actor, 1);
    } finally {
      await first.close();
    }
    const second = await startTestEngine();
    try {
      const listed = await listedFor(second, actor, 1);
      assert.deepEqual(listed.map((found) => [found.action, found.target]), [['repo.remove', 'old-repo']]);
    } finally {
      await second.close();
    }
  });
});
