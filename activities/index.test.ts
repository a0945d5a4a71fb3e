import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { BUILTIN_ACTIONS } from '../dag-repos/actions/registry';
import { ACTION_NON_RETRYABLE_ERRORS, createActivities } from './index';

test('registers an activity for every built-in action, and noop echoes its inputs', async () => {
  const activities = createActivities({ logRoot: '/nonexistent-not-used' });
  const needed = BUILTIN_ACTIONS.flatMap((action) => (action.execution.kind === 'activity' ? [action.execution.activity] : []));
  const missing = needed.filter((name) => !(name in activities));
  assert.deepEqual(missing, [], `actions whose activity is not registered: ${missing.join(', ')}`);
  for (const name of ['shell', 'httpCheck', 'noop']) assert.ok(name in activities, name);
  const result = await new MockActivityEnvironment().run(activities.noop, {
    runId: 'dag/x/1',
    dagId: 'x',
    taskId: 'join',
    with: { answer: 42 },
  });
  assert.deepEqual(result, { outputs: { answer: 42 }, summary: 'ok' });
  for (const type of ['CommandNotFound', 'InvalidActionInput']) assert.ok(ACTION_NON_RETRYABLE_ERRORS.includes(type), type);
});
