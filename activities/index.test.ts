import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ACTION_NON_RETRYABLE_ERRORS, createActivities } from './index';

test('registers shell, httpCheck and noop, and noop echoes its inputs', async () => {
  const activities = createActivities({ logRoot: '/nonexistent-not-used' });
  assert.deepEqual(Object.keys(activities).sort(), ['httpCheck', 'noop', 'shell']);
  const result = await new MockActivityEnvironment().run(activities.noop, {
    runId: 'dag/x/1',
    dagId: 'x',
    taskId: 'join',
    with: { answer: 42 },
  });
  assert.deepEqual(result, { outputs: { answer: 42 }, summary: 'ok' });
  assert.deepEqual([...ACTION_NON_RETRYABLE_ERRORS].sort(), ['CommandNotFound', 'InvalidActionInput']);
});
