import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure, type Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ActionInvocation } from '../dag-repos/actions/action-types';
import { resolveSecretRefsAt } from '../activities/process/secret-refs';
import { heartbeat, withSecretScope } from '../activities/process/secret-scope';
import { collectSecretRefs, secretRefsUnder } from '../dag-repos/compiler/secret-references';
import { renderValue } from '../dag-repos/expressions';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';

// Secret references are the DAG author's: only those written literally in a task's `with` (or a secret
// param's default reference used whole) are resolved. Everything rendered from params, webhook payloads
// or upstream outputs reaches the tool as the text it is, even when it reads `secret://…`.

const CANARY = `canary-${randomBytes(12).toString('hex')}`;
const CANARY_ENV = 'QUBINODE_REFS_TEST_CANARY';
const OTHER_ENV = 'QUBINODE_REFS_TEST_WORKER_TOKEN';
const OTHER = `worker-token-${randomBytes(8).toString('hex')}`;
const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
const quiet: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

/** A task that prints the sha256 of $VALUE: proves what it received without the value ever being printed. */
const hashOfValue = 'printf %s "$VALUE" | sha256sum | cut -c1-64';

describe('secret references from the DAG author only (real engine)', () => {
  let engine: TestEngine;
  let scratch: string;
  let secretFile: string;

  before(async () => {
    process.env[CANARY_ENV] = CANARY;
    process.env[OTHER_ENV] = OTHER;
    scratch = mkdtempSync(path.join(tmpdir(), 'qubinode-refs-'));
    secretFile = path.join(scratch, 'shadow');
    writeFileSync(secretFile, `${CANARY}\n`, { mode: 0o600 });
    engine = await startTestEngine();
  });
  after(async () => {
    await engine.close();
    delete process.env[CANARY_ENV];
    delete process.env[OTHER_ENV];
    rmSync(scratch, { recursive: true, force: true });
  });

  const echoParam = `
id: echo-param
params:
  value: { type: string }
tasks:
  - id: echo
    uses: shell
    with:
      env: { VALUE: "\${{ params.value }}" }
      script: printf '%s' "$VALUE"
`;

  it('passes a param that reads secret://env/… or secret://file/… to the task as that literal text', async () => {
    const dag = engine.compile(echoParam);
    for (const hostile of [`secret://env/${CANARY_ENV}`, `secret://env/${OTHER_ENV}`, `secret://file/${secretFile}`, `secret://file//${secretFile}`]) {
      const status = await engine.run(dag, { value: hostile });
      assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks[0]?.error));
      assert.equal(status.tasks[0]?.outputs?.stdout, hostile, 'the tool receives the text it was given');
      const history = JSON.stringify(await engine.client.workflow.getHandle(status.runId).fetchHistory());
      assert.ok(!history.includes(CANARY) && !history.includes(OTHER), `${hostile} must not read a worker secret`);
    }
  });

  it('passes a webhook payload field that reads secret://… to the task as that literal text', async () => {
    const dag = engine.compile(echoParam);
    // The trigger's payload mapping, as the webhook route renders it before starting the run.
    const params = renderValue({ value: '${{ payload.vm.name }}' }, { payload: { vm: { name: `secret://env/${CANARY_ENV}` } } }) as Record<string, unknown>;
    const status = await engine.run(dag, params);
    assert.equal(status.tasks[0]?.outputs?.stdout, `secret://env/${CANARY_ENV}`);
  });

  it('passes an upstream output that reads secret://… to the next task as that literal text', async () => {
    const dag = engine.compile(`
id: echo-output
tasks:
  - id: produce
    uses: shell
    with:
      script: echo "ref=secret://env/${CANARY_ENV}" >> "$QUBINODE_OUTPUTS"
  - id: consume
    uses: shell
    needs: [produce]
    with:
      env: { VALUE: "\${{ tasks.produce.outputs.ref }}" }
      script: printf '%s' "$VALUE"
`);
    const status = await engine.run(dag);
    assert.deepEqual(taskStates(status), { produce: 'succeeded', consume: 'succeeded' });
    assert.equal(status.tasks.find((task) => task.id === 'consume')?.outputs?.stdout, `secret://env/${CANARY_ENV}`);
  });

  it('resolves a reference the author wrote in with, in every forEach item and in a compensation', async () => {
    const dag = engine.compile(`
id: author-refs
rollback: auto
tasks:
  - id: fan
    uses: shell
    forEach: [1, 2]
    with:
      env: { VALUE: secret://env/${CANARY_ENV} }
      script: '${hashOfValue}'
    compensate:
      uses: shell
      with:
        env: { VALUE: secret://file/${secretFile} }
        script: 'test "$(${hashOfValue})" = "${sha(CANARY)}"'
  - id: breaks
    uses: shell
    needs: [fan]
    with: { command: ['false'] }
`);
    const status = await engine.run(dag);
    assert.equal(status.state, 'failed');
    const fan = status.tasks.find((task) => task.id === 'fan');
    const items = (fan?.items ?? []).map((item) => String(item.outputs?.stdout).trim());
    assert.deepEqual(items, [sha(CANARY), sha(CANARY)], 'each item received the resolved secret');
    assert.equal(status.rollback?.state, 'succeeded', JSON.stringify(status.rollback));
    assert.equal(status.rollback?.compensations[0]?.state, 'succeeded', 'the compensation received the resolved file secret');
  });

  it("honours a secret param's default reference only while the run's value is that very reference", async () => {
    const dag = engine.compile(`
id: param-default-ref
params:
  token: { type: string, secret: true, default: secret://env/${CANARY_ENV} }
tasks:
  - id: use
    uses: shell
    with:
      env: { VALUE: "\${{ params.token }}" }
      script: '${hashOfValue}'
`);
    const byDefault = await engine.run(dag);
    assert.equal(String(byDefault.tasks[0]?.outputs?.stdout).trim(), sha(CANARY));
    const swapped = await engine.run(dag, { token: `secret://env/${OTHER_ENV}` });
    assert.equal(String(swapped.tasks[0]?.outputs?.stdout).trim(), sha(`secret://env/${OTHER_ENV}`), 'a caller cannot point the param at another secret');
  });

  it("resolves a reference written in a rollout check's with, on each target", async () => {
    const step = `
id: step
tasks:
  - id: change
    uses: noop
`;
    const dag = engine.compile(
      `
id: roll-with-secret
tasks:
  - id: roll
    uses: rollout
    with:
      dag: step
      targets: [{ name: h1, queue: ${engine.taskQueue} }]
      analysis:
        checks:
          - uses: shell
            with:
              env: { VALUE: secret://env/${CANARY_ENV} }
              script: 'test "$(${hashOfValue})" = "${sha(CANARY)}"'
`,
      { step },
    );
    const status = await engine.run(dag);
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks[0]?.error));
    assert.deepEqual(status.tasks[0]?.outputs?.updated, ['h1']);
  });

  it('refuses an ansible vault password that arrives from a param', async () => {
    const dag = engine.compile(`
id: vault-from-param
params:
  pass: { type: string }
tasks:
  - id: play
    uses: ansible.playbook
    with:
      playbook: site.yml
      vaultPasswordSecret: "\${{ params.pass }}"
`);
    const status = await engine.run(dag, { pass: `secret://env/${CANARY_ENV}` });
    assert.equal(status.tasks[0]?.error?.type, 'InvalidActionInput');
    assert.match(status.tasks[0]?.error?.message ?? '', /vaultPasswordSecret: must be a secret reference written in the DAG file/);
  });
});

describe('secret references (units)', () => {
  it('records the paths of literal references, and of a param default reference used whole', () => {
    const refs = collectSecretRefs(
      {
        env: { A: 'secret://env/A', B: 'Bearer secret://env/B', C: '${{ params.c }}', D: '${{ params.d }}', E: 'x ${{ params.c }}' },
        headers: [{ authorization: 'secret://vault/kv/app#token' }],
        templated: 'secret://env/${{ params.x }}',
      },
      { c: { type: 'string', required: false, secret: true, default: 'secret://file/etc/c' }, d: { type: 'string', required: false, secret: false, default: 'plain' } },
    );
    assert.deepEqual(refs, [
      { path: ['env', 'A'], ref: 'secret://env/A' },
      { path: ['env', 'C'], ref: 'secret://file/etc/c' },
      { path: ['headers', 0, 'authorization'], ref: 'secret://vault/kv/app#token' },
    ]);
  });

  it('does not walk past a bounded depth of nested with values', () => {
    let deep: unknown = 'secret://env/DEEP';
    for (let level = 0; level < 5000; level += 1) deep = { next: deep };
    assert.deepEqual(collectSecretRefs(deep), []);
  });

  it('resolves only where the value is still the recorded reference, and keeps "__proto__" a plain key', async () => {
    const env = { A: 'alpha-secret', B: 'beta-secret' };
    const refs = [
      { path: ['x'], ref: 'secret://env/A' },
      { path: ['y'], ref: 'secret://env/B' },
      { path: ['__proto__', 'polluted'], ref: 'secret://env/A' },
      { path: ['z'], ref: 'not a reference' },
    ];
    const input = JSON.parse('{"x":"secret://env/A","y":"secret://env/OTHER","__proto__":{"polluted":"secret://env/A"},"z":"not a reference"}') as Record<string, unknown>;
    const { value, secrets } = await resolveSecretRefsAt(input, refs, env);
    assert.equal(value.x, 'alpha-secret');
    assert.equal(value.y, 'secret://env/OTHER', 'a path holding other text is left alone');
    assert.equal(value.z, 'not a reference');
    assert.deepEqual(Object.getOwnPropertyDescriptor(value, '__proto__')?.value, { polluted: 'alpha-secret' });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(secrets, ['alpha-secret', 'alpha-secret']);
    assert.ok(input.x === 'secret://env/A', 'the invocation itself is not changed');
  });

  it("gives a rollout check the references under its own with", () => {
    const refs = [
      { path: ['analysis', 'checks', 1, 'with', 'headers', 'authorization'], ref: 'secret://env/T' },
      { path: ['analysis', 'checks', 10, 'with', 'url'], ref: 'secret://env/U' },
      { path: ['switch', 'with', 'env', 'K'], ref: 'secret://env/K' },
    ];
    assert.deepEqual(secretRefsUnder(refs, ['analysis', 'checks', 1, 'with']), [{ path: ['headers', 'authorization'], ref: 'secret://env/T' }]);
    assert.deepEqual(secretRefsUnder(refs, ['switch', 'with']), [{ path: ['env', 'K'], ref: 'secret://env/K' }]);
    assert.deepEqual(secretRefsUnder(undefined, ['switch', 'with']), []);
  });
});

describe('the worker secret scope', () => {
  const SECRET = 'scope-secret-value-1234';
  const env = { SCOPE_SECRET: SECRET };
  const invocation = (withValue: Record<string, unknown>, extra: Partial<ActionInvocation> = {}): ActionInvocation => ({
    runId: 'dag/t/1', dagId: 't/x', taskId: 'a', with: withValue, secretRefs: collectSecretRefs(withValue), ...extra,
  });

  it('hands the action the resolved value and redacts it from the result, keys included', async () => {
    const seen: ActionInvocation[] = [];
    const { act } = withSecretScope({
      act: async (inv: ActionInvocation) => {
        seen.push(inv);
        return { outputs: { echoed: `got ${String((inv.with.env as Record<string, string>).X)}`, [SECRET]: 1, b64: Buffer.from(`${SECRET}\n`).toString('base64') }, summary: SECRET };
      },
    }, env);
    const result = (await new MockActivityEnvironment(undefined, { logger: quiet }).run(act, invocation({ env: { X: 'secret://env/SCOPE_SECRET' } }))) as { summary: string };
    assert.equal((seen[0]?.with.env as Record<string, string>).X, SECRET);
    assert.deepEqual(seen[0]?.secrets, [SECRET]);
    assert.ok(!JSON.stringify(result).includes(SECRET), JSON.stringify(result));
    assert.ok(!JSON.stringify(result).includes(Buffer.from(SECRET).toString('base64').slice(0, 20)), 'the base64 form is redacted too');
    assert.equal(result.summary, '***');
  });

  it('drops a secrets list claimed in the input and resolves nothing without recorded references', async () => {
    const seen: ActionInvocation[] = [];
    const { act } = withSecretScope({ act: async (inv: ActionInvocation) => (seen.push(inv), { outputs: {}, summary: '' }) }, env);
    await new MockActivityEnvironment(undefined, { logger: quiet }).run(act, { ...invocation({ v: 'secret://env/SCOPE_SECRET' }), secretRefs: undefined, secrets: ['claimed'] } as ActionInvocation);
    assert.equal(seen[0]?.with.v, 'secret://env/SCOPE_SECRET', 'a plan compiled without references resolves none');
    assert.deepEqual(seen[0]?.secrets, []);
  });

  it('redacts a thrown failure: message, details, causes and stack', async () => {
    const { act } = withSecretScope({
      act: async (inv: ActionInvocation) => {
        const value = String(inv.with.v);
        throw ApplicationFailure.create({ type: 'Boom', message: `failed with ${value}`, nonRetryable: true, details: [{ tail: value, nested: [value] }], cause: new Error(`inner ${encodeURIComponent(value)}`) });
      },
    }, env);
    const failure = await new MockActivityEnvironment(undefined, { logger: quiet }).run(act, invocation({ v: 'secret://env/SCOPE_SECRET' })).then(
      () => assert.fail('expected a failure'),
      (error: unknown) => error as ApplicationFailure,
    );
    assert.ok(failure instanceof ApplicationFailure);
    assert.equal(failure.type, 'Boom');
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.message, 'failed with ***');
    assert.deepEqual(failure.details, [{ tail: '***', nested: ['***'] }]);
    assert.equal(failure.cause?.message, 'inner ***');
    assert.ok(!String(failure.stack).includes(SECRET));
  });

  it('redacts heartbeat details sent from inside the scope', async () => {
    const { act } = withSecretScope({ act: async (inv: ActionInvocation) => (heartbeat({ lastLine: `line ${String(inv.with.v)}` }), { outputs: {}, summary: '' }) }, env);
    const mock = new MockActivityEnvironment(undefined, { logger: quiet });
    const beats: unknown[] = [];
    mock.on('heartbeat', (details: unknown) => beats.push(details));
    await mock.run(act, invocation({ v: 'secret://env/SCOPE_SECRET' }));
    assert.deepEqual(beats, [{ lastLine: 'line ***' }]);
  });
});
