import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { killProcessGroup, processGroupAlive } from './process-group';

test('escalates to SIGKILL when the process group ignores SIGTERM', async () => {
  // An ignored signal stays ignored in children, so the background sleep ignores SIGTERM too.
  const child = spawn('/bin/bash', ['-c', 'trap "" TERM; sleep 300 & sleep 300; wait'], { detached: true, stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const pid = child.pid;
  assert.ok(pid !== undefined);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(await killProcessGroup(pid, 300), 'killed');
  await exited;
  for (let i = 0; i < 40 && processGroupAlive(pid); i += 1) await new Promise((resolve) => setTimeout(resolve, 25));
  assert.equal(processGroupAlive(pid), false);
});
