import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../config/config';

/**
 * An operator's CLI talks to the API only: what it loads for that must not include the Temporal SDK, whose
 * loading alone took a third of a second (`dag list` through the API went from 0.6 s to 0.3 s without it).
 */
describe('the CLI through the API', () => {
  it('loads no Temporal SDK module for its backend', () => {
    const probe = `require('./cli/backend/api-backend'); require('./client/api-client'); process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((file) => file.includes('@temporalio') || file.includes('@grpc'))));`;
    const loaded = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '-e', probe], { cwd: PROJECT_ROOT, encoding: 'utf8' })) as string[];
    assert.deepEqual(loaded, []);
  });
});
