import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { taskLogPath } from '../../config/log-layout';
import { OutputTail } from './output-tail';
import { parseOutputs } from '../actions/outputs-file';

test('builds a task log path from the run id and creates its directory', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'qubinode-logs-test-'));
  try {
    const plain = taskLogPath(root, 'dag/examples/hello/20261125-2017-ab12', 'greet');
    assert.equal(plain, path.join(root, 'dag', 'examples', 'hello', '20261125-2017-ab12', 'greet.log'));
    assert.ok((await stat(path.dirname(plain))).isDirectory());
    assert.equal(taskLogPath(root, 'dag/x/1', 'fan', 3), path.join(root, 'dag', 'x', '1', 'fan.3.log'));
    // Unsafe characters are replaced and ".." cannot climb out of the log root.
    const unsafe = taskLogPath(root, 'dag/../../etc/run 1', 'a b/c');
    assert.equal(unsafe, path.join(root, 'dag', '__', '__', 'etc', 'run_1', 'a_b_c.log'));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('keeps only the last bytes of a stream and marks truncation', () => {
  const tail = new OutputTail(8);
  tail.push('12345');
  assert.equal(tail.text(), '12345');
  tail.push(Buffer.from('67890abc'));
  assert.equal(tail.text(), '…67890abc');
  const multibyte = new OutputTail(4);
  multibyte.push('xxé€'); // "€" is 3 bytes, "é" 2: the cut lands inside "é"
  assert.equal(multibyte.text(), '…€');
});

test('parses key=value outputs, JSON values and malformed lines', () => {
  const { outputs, warnings } = parseOutputs('a=1\nb={"c":[1]}\n\nplain=hello world\nempty=\n=x\nnope\nd=true\r\n');
  assert.deepEqual(outputs, { a: 1, b: { c: [1] }, plain: 'hello world', empty: '', d: true });
  assert.deepEqual(warnings, ['ignored 2 malformed QUBINODE_OUTPUTS line(s) (line 6, 7); expected key=value']);
});
