import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startTestEngine, type TestEngine } from './support/engine';

const SECRET = 'sup3r-s3cret-value-8812';

describe('secret references', () => {
  let engine: TestEngine;
  before(async () => {
    process.env.QUBINODE_TEST_SECRET = SECRET;
    engine = await startTestEngine();
  });
  after(async () => {
    delete process.env.QUBINODE_TEST_SECRET;
    await engine.close();
  });

  it('resolves secret://env/ inside the activity and keeps the value out of history, outputs and logs', async () => {
    const dag = engine.compile(`
id: uses-secret
params:
  token:
    type: string
    secret: true
    default: secret://env/QUBINODE_TEST_SECRET
tasks:
  - id: use
    uses: shell
    with:
      env: { API_TOKEN: "\${{ params.token }}" }
      script: 'echo "token is $API_TOKEN"; test "$API_TOKEN" = "${SECRET}"'
`);
    const status = await engine.run(dag);
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks[0]?.error));
    assert.equal(status.tasks[0]?.outputs?.stdout, 'token is ***\n');
    assert.equal(status.params.token, '***');
    const history = JSON.stringify(await engine.client.workflow.getHandle(status.runId).fetchHistory());
    assert.ok(!history.includes(SECRET), 'the secret value must not appear in workflow history');
    const log = readFileSync(String(status.tasks[0]?.logPath), 'utf8');
    assert.ok(log.includes('token is ***') && !log.includes(SECRET), log);
  });

  it('redacts the base64 and URL-encoded forms of a resolved secret from outputs, failures and logs', async () => {
    const dag = engine.compile(`
id: encoded-secret
tasks:
  - id: leak
    uses: shell
    with:
      env: { VALUE: secret://env/QUBINODE_TEST_SECRET }
      script: |
        base64 <<< "$VALUE"
        printf '%s' "$VALUE" | base64
        printf 'x%s' "$VALUE" | base64
        python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$VALUE"
        base64 <<< "$VALUE" >&2
        exit 3
`);
    const status = await engine.run(dag);
    const task = status.tasks[0];
    assert.equal(task?.error?.type, 'CommandFailed');
    const encoded = [Buffer.from(`${SECRET}\n`).toString('base64').slice(0, 24), Buffer.from(SECRET).toString('base64').slice(0, 24), Buffer.from(`x${SECRET}`).toString('base64').slice(4, 24)];
    const history = JSON.stringify(await engine.client.workflow.getHandle(status.runId).fetchHistory());
    const log = readFileSync(String(task?.logPath), 'utf8');
    for (const [where, text] of [['history', history], ['log', log], ['status', JSON.stringify(status)]] as const) {
      for (const form of [SECRET, ...encoded]) assert.ok(!text.includes(form), `${form} in ${where}`);
    }
    assert.match(log, /\*\*\*/);
  });

  it('fails without retrying when a referenced secret is missing on the worker', async () => {
    const dag = engine.compile(`
id: missing-secret
tasks:
  - id: use
    uses: shell
    retry: 3
    with:
      env: { API_TOKEN: secret://env/QUBINODE_NO_SUCH_SECRET }
      command: ['true']
`);
    const status = await engine.run(dag);
    assert.equal(status.tasks[0]?.error?.type, 'SecretNotFound');
    assert.equal(status.tasks[0]?.attempt, 1);
    assert.match(status.tasks[0]?.error?.message ?? '', /QUBINODE_NO_SUCH_SECRET is not set on the worker/);
  });
});
