import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { TASK_LOG_MAX_BYTES } from '../../config/task-log-request';
import { completeUtf8Length, createTaskLogReadActivities, readTaskLogFiles } from './task-log-read';

const RUN = 'dag/test/logs/run-1';
const CANARY = 'CANARY-outside-the-log-root-7f3a';

describe('readTaskLog: what a worker lets the control plane read', () => {
  const base = mkdtempSync(path.join(tmpdir(), 'qubinode-log-read-'));
  const root = path.join(base, 'logs');
  const runDir = path.join(root, 'dag', 'test', 'logs', 'run-1');
  const outside = path.join(base, 'secret.txt');
  mkdirSync(runDir, { recursive: true });
  writeFileSync(outside, `${CANARY}\n`);
  // Outside the root, named like a log: what a symlinked run directory would expose.
  writeFileSync(path.join(base, 'stolen.log'), `${CANARY}\n`);
  writeFileSync(path.join(runDir, 'deploy.log'), 'deploy line\n');
  writeFileSync(path.join(runDir, 'deploy.0.log'), 'item zero\n');
  writeFileSync(path.join(runDir, 'deploy-db.log'), 'another task\n');
  writeFileSync(path.join(runDir, 'deploy.x.log'), 'not an item\n');
  const { readTaskLog } = createTaskLogReadActivities({ logRoot: root });
  after(() => rmSync(base, { recursive: true, force: true }));

  const refused = async (input: unknown, field: RegExp): Promise<void> => {
    await assert.rejects(
      () => readTaskLog(input),
      (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure, String(error));
        assert.equal(error.type, 'InvalidTaskLogRequest');
        assert.equal(error.nonRetryable, true);
        assert.match(error.message, field);
        return true;
      },
    );
  };

  it('reads a task and its forEach items, and no task whose id only starts alike', async () => {
    const chunk = await readTaskLog({ runId: RUN, taskId: 'deploy' });
    assert.deepEqual(chunk.files.map((file) => file.name).sort(), ['deploy', 'deploy.0']);
    assert.equal(chunk.files.find((file) => file.name === 'deploy')?.text, 'deploy line\n');
    assert.equal(chunk.matched, 2);
    assert.equal(chunk.more, false);
  });

  it('continues from the offsets of an earlier answer and returns nothing when nothing is new', async () => {
    const first = await readTaskLog({ runId: RUN, taskId: 'deploy' });
    const from = Object.fromEntries(first.files.map((file) => [file.name, file.nextOffset]));
    assert.deepEqual((await readTaskLog({ runId: RUN, taskId: 'deploy', from })).files, []);
    const tail = await readTaskLog({ runId: RUN, taskId: 'deploy', from: { deploy: 7 } });
    assert.equal(tail.files.find((file) => file.name === 'deploy')?.text, 'line\n');
  });

  it('answers an offset past the end with no text instead of failing', async () => {
    const chunk = await readTaskLog({ runId: RUN, taskId: 'deploy', offset: Number.MAX_SAFE_INTEGER });
    assert.deepEqual(chunk.files, []);
    assert.equal(chunk.matched, 2);
  });

  it('refuses run ids that could leave the log root: ../, absolute, encoded, only dots', async () => {
    for (const runId of ['dag/../../etc', '/etc/passwd', 'dag/%2e%2e/x', 'dag/x/..', 'dag/./x', 'dag\\..\\x', 'etc/passwd', 'dag//x', `dag/${'a'.repeat(500)}`]) {
      await refused({ runId }, /runId/);
    }
  });

  it('refuses task ids and offset names that are not plain names', async () => {
    for (const taskId of ['../deploy', 'a/b', '.hidden', '', 'x'.repeat(64), 'deploy\n']) await refused({ runId: RUN, taskId }, /taskId/);
    await refused({ runId: RUN, from: { '../../secret': 0 } }, /from/);
    await refused({ runId: RUN, from: { deploy: -1 } }, /from/);
    await refused({ runId: RUN, offset: 2 ** 60 }, /offset/);
    await refused({ runId: RUN, maxBytes: TASK_LOG_MAX_BYTES + 1 }, /maxBytes/);
    await refused({ runId: RUN, from: Object.fromEntries(Array.from({ length: 10_001 }, (_, index) => [`t.${index}`, 0])) }, /from: at most 10000 offsets/);
    await refused({ runId: RUN, path: '/etc/passwd' }, /request/);
    await refused('dag/test/logs/run-1', /request/);
  });

  it('never reads through a symlink, a symlinked run directory, a directory or a FIFO named like a log', async () => {
    symlinkSync(outside, path.join(runDir, 'evil.log'));
    symlinkSync(path.join(runDir, 'deploy.log'), path.join(runDir, 'alias.log'));
    mkdirSync(path.join(runDir, 'folder.log'));
    execFileSync('mkfifo', [path.join(runDir, 'pipe.log')]);
    const linkedRun = path.join(root, 'dag', 'test', 'logs', 'linked');
    symlinkSync(base, linkedRun);
    const all = await readTaskLog({ runId: RUN });
    assert.deepEqual(all.files.map((file) => file.name).sort(), ['deploy', 'deploy-db', 'deploy.0', 'deploy.x']);
    assert.ok(!JSON.stringify(all).includes(CANARY));
    for (const taskId of ['evil', 'alias', 'folder', 'pipe']) assert.deepEqual((await readTaskLog({ runId: RUN, taskId })).files, [], taskId);
    const escaped = await readTaskLog({ runId: 'dag/test/logs/linked' });
    assert.deepEqual(escaped, { files: [], matched: 0, more: false });
  });

  it('answers a run without logs here with no files', async () => {
    assert.deepEqual(await readTaskLog({ runId: 'dag/test/logs/elsewhere' }), { files: [], matched: 0, more: false });
  });
});

describe('readTaskLog bounds', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'qubinode-log-bounds-'));
  const runDir = path.join(root, 'dag', 'big', 'run');
  mkdirSync(runDir, { recursive: true });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('returns a large log in chunks of at most the byte budget that add up to the file', () => {
    const text = Array.from({ length: 20_000 }, (_, index) => `line ${index} ${'x'.repeat(30)}`).join('\n');
    writeFileSync(path.join(runDir, 'big.log'), text);
    const parts: string[] = [];
    let from: Record<string, number> = {};
    for (let call = 0; call < 10; call += 1) {
      const chunk = readTaskLogFiles(root, { runId: 'dag/big/run', taskId: 'big', from });
      const bytes = chunk.files.reduce((sum, file) => sum + Buffer.byteLength(file.text), 0);
      assert.ok(bytes <= TASK_LOG_MAX_BYTES, `chunk of ${bytes} bytes`);
      for (const file of chunk.files) {
        parts.push(file.text);
        from = { ...from, [file.name]: file.nextOffset };
      }
      if (!chunk.more) break;
    }
    assert.ok(Buffer.byteLength(text) > 2 * TASK_LOG_MAX_BYTES, 'the file needs several calls');
    assert.equal(parts.join(''), text);
  });

  it('never splits a UTF-8 character at the end of a chunk', () => {
    writeFileSync(path.join(runDir, 'euro.log'), '€'.repeat(1000));
    const chunk = readTaskLogFiles(root, { runId: 'dag/big/run', taskId: 'euro', maxBytes: 1000 });
    assert.equal(chunk.files[0]?.text, '€'.repeat(333));
    assert.equal(chunk.files[0]?.nextOffset, 999);
    assert.equal(chunk.more, true);
    assert.equal(completeUtf8Length(Buffer.from([0x61, 0xe2, 0x82])), 1);
    assert.equal(completeUtf8Length(Buffer.from('a€', 'utf8')), 4);
    assert.equal(completeUtf8Length(Buffer.from([0xf0, 0x9f, 0x98])), 0);
  });
});
