import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure, type Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { parse, parseDocument, visit } from 'yaml';
import { createAnsibleActivities } from '../activities/actions/ansible';
import { EXTRA_VARS_MAX_DEPTH, ExtraVarsError, unsafeExtraVarsYaml } from '../activities/actions/ansible-extra-vars';
import type { ActionInvocation, ActionResult } from '../dag-repos/actions/action-types';
import { findTool } from '../config/tool-paths';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { checkDagFile } from '../dag-repos/compiler/compile';
import { formatDiagnostic } from '../dag-repos/compiler/diagnostics';
import { startTestEngine, type TestEngine } from './support/engine';
import { taskOf } from './support/waiting';

// Issue 9, item 3: extra vars are data, not Jinja templates. Real ansible-navigator and
// ansible-playbook (from .tools/venv, infra/setup.sh) against localhost.

const quiet: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const fixtures = path.join(__dirname, 'fixtures', 'ansible');
const inventory = path.join(fixtures, 'inventory.ini');
const playbook = path.join(fixtures, 'echo-vars.yml');
const missing = ['ansible-navigator', 'ansible-playbook'].filter((tool) => findTool(tool) === undefined);
const skip = missing.length > 0 ? `${missing.join(', ')} not installed: run bash infra/setup.sh` : false;

const lookup = (file: string): string => `{{ lookup('pipe', 'touch ${file}') }}`;

let dir: string;
let logRoot: string;
before(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'qubinode-unsafe-'));
  logRoot = mkdtempSync(path.join(tmpdir(), 'qubinode-unsafe-logs-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(logRoot, { recursive: true, force: true });
});

async function play(input: Record<string, unknown>): Promise<ActionResult> {
  const activities = createAnsibleActivities({ logRoot, dagDirectories: [{ repo: 'fixtures', dir: fixtures }] });
  const env = new MockActivityEnvironment(undefined, { logger: quiet });
  const inv: ActionInvocation<never> = { runId: 'dag/fixtures/unsafe/1', dagId: 'fixtures/unsafe', taskId: `t${Math.random().toString(36).slice(2, 8)}`, with: input as never };
  return env.run<[ActionInvocation<never>], ActionResult, typeof activities.ansiblePlaybook>(activities.ansiblePlaybook, inv);
}

for (const runner of ['ansible-navigator', 'ansible-playbook'] as const) {
  describe(`extra vars with ${runner}`, { skip }, () => {
    it('does not run a pipe lookup in an extra var, nested or not, and the playbook sees the literal text', async () => {
      const out = path.join(dir, `out-${runner}`);
      const marks = [0, 1, 2].map((index) => path.join(dir, `pwned-${runner}-${index}`));
      const payload = lookup(marks[0] as string);
      const nested = { list: [lookup(marks[1] as string)], map: { inner: `{% if true %}${lookup(marks[2] as string)}{% endif %}` } };
      const result = await play({ playbook, inventory, runner, extraVars: { out, payload, nested, count: 3 } });
      assert.equal(result.outputs.runner, runner);
      for (const mark of marks) assert.equal(existsSync(mark), false, `${mark} was created`);
      assert.equal(readFileSync(out, 'utf8'), payload);
      assert.equal(readFileSync(`${out}.nested`, 'utf8'), `${nested.list[0]}|${nested.map.inner}|int`);
    });
  });
}

describe('ansible.playbook inputs', { skip }, () => {
  it('refuses an inline inventory host that ssh would read as an option, before running anything', async () => {
    await assert.rejects(play({ playbook, inventory: ['localhost', '-oProxyCommand=touch /tmp/x'], extraVars: { out: path.join(dir, 'never') } }), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, 'InvalidActionInput');
      assert.equal(error.nonRetryable, true);
      assert.match(error.message, /with\.inventory: host "-oProxyCommand=touch \/tmp\/x" must not start with "-"/);
      return true;
    });
    assert.equal(existsSync(path.join(dir, 'never')), false);
  });

  it('refuses an extra var whose name is not a variable name, without running the playbook', async () => {
    await assert.rejects(play({ playbook, inventory, extraVars: { 'out': path.join(dir, 'never2'), '{{ x }}': 1 } }), (error: unknown) => {
      assert.ok(error instanceof ApplicationFailure);
      assert.equal(error.type, 'InvalidActionInput');
      assert.match(error.message, /with\.extraVars\."\{\{ x \}\}": a variable name has letters, digits and "_" only/);
      return true;
    });
    assert.equal(existsSync(path.join(dir, 'never2')), false);
  });
});

describe('a DAG param passed as an extra var, on a real engine', { skip }, () => {
  let engine: TestEngine;
  before(async () => {
    engine = await startTestEngine();
  });
  after(async () => engine.close());

  it('reaches the playbook as text and never runs', async () => {
    const mark = path.join(dir, 'pwned-engine');
    const out = path.join(dir, 'out-engine');
    const dag = engine.compile(`
id: configure
params:
  payload: { type: string }
tasks:
  - id: play
    uses: ansible.playbook
    with:
      playbook: ${JSON.stringify(playbook)}
      inventory: ${JSON.stringify(inventory)}
      runner: ansible-playbook
      extraVars:
        out: ${JSON.stringify(out)}
        payload: \${{ params.payload }}
        nested: { list: ["\${{ params.payload }}"], map: { inner: "\${{ params.payload }}" } }
        count: 1
`);
    const payload = lookup(mark);
    const status = await engine.run(dag, { payload });
    assert.equal(taskOf(status, 'play').state, 'succeeded', JSON.stringify(taskOf(status, 'play').error));
    assert.equal(existsSync(mark), false);
    assert.equal(readFileSync(out, 'utf8'), payload);
    assert.equal(readFileSync(`${out}.nested`, 'utf8'), `${payload}|${payload}|int`);
  });
});

describe('the extra-vars file', () => {
  it('tags every string, nested keys included, and keeps numbers, booleans and null as they are', () => {
    const vars = { name: 'vm1', count: 2, on: true, none: null, list: ['a', 1, { 'k{{ x }}': '{{ y }}' }], text: 'line 1\nline 2: "{{ z }}"' };
    const text = unsafeExtraVarsYaml(vars);
    assert.match(text, /^name: !unsafe vm1$/m);
    assert.match(text, /^count: 2$/m);
    assert.match(text, /!unsafe "?k\{\{ x \}\}"?: !unsafe "\{\{ y \}\}"/);
    const unsafe = { tag: '!unsafe', resolve: (value: string) => value };
    assert.deepEqual(parse(text, { customTags: [unsafe] }), vars);
    const untagged: string[] = [];
    const topKeys = new Set(Object.keys(vars));
    visit(parseDocument(text, { customTags: [unsafe] }), {
      Scalar(_key, node) {
        if (typeof node.value === 'string' && node.tag !== '!unsafe' && !topKeys.has(node.value)) untagged.push(node.value);
      },
    });
    assert.deepEqual(untagged, [], 'every string but the top-level names is tagged');
  });

  it('refuses top-level keys that are not variable names and values nested too deep', () => {
    for (const key of ['a b', '1x', 'x-y', '{{ x }}', '']) assert.throws(() => unsafeExtraVarsYaml({ [key]: 1 }), ExtraVarsError, key);
    let deep: unknown = 'bottom';
    for (let level = 0; level < EXTRA_VARS_MAX_DEPTH + 5; level++) deep = { next: deep };
    assert.throws(() => unsafeExtraVarsYaml({ deep }), (error: unknown) => error instanceof ExtraVarsError && /nested deeper than/.test(error.message));
  });

  it('writes a large value whole', () => {
    const big = `{{ x }}${'a'.repeat(1_000_000)}`;
    const unsafe = { tag: '!unsafe', resolve: (value: string) => value };
    assert.equal((parse(unsafeExtraVarsYaml({ big }), { customTags: [unsafe] }) as { big: string }).big, big);
  });
});

describe('ansible.playbook settings the compiler keeps literal', () => {
  const registry = new ActionRegistry();
  const problems = (withText: string): string[] =>
    checkDagFile(
      { repo: 't', path: 'dag.yaml', commit: 'c', text: `id: d\nparams:\n  v: { type: string }\n  vars: { type: object, default: {} }\ntasks:\n  - id: p\n    uses: ansible.playbook\n    with:\n      playbook: site.yml\n${withText}` },
      { registry },
    ).diagnostics.map(formatDiagnostic);

  it('refuses extra vars given as one expression, whose keys a value could choose', () => {
    assert.match(problems('      extraVars: "${{ params.vars }}"\n').join('\n'), /dag\.yaml:10:18 tasks\.p\.with\.extraVars: extraVars must be a mapping written in the DAG/);
  });

  it('refuses an ansible_ variable or an ANSIBLE_ setting taken from a value', () => {
    const found = problems('      extraVars:\n        ansible_python_interpreter: "${{ params.v }}"\n        vm: "${{ params.v }}"\n      env:\n        ANSIBLE_SSH_ARGS: "-o ${{ params.v }}"\n').join('\n');
    assert.match(found, /tasks\.p\.with\.extraVars\.ansible_python_interpreter: ansible_python_interpreter is an Ansible connection or behaviour variable/);
    assert.match(found, /tasks\.p\.with\.env\.ANSIBLE_SSH_ARGS: ANSIBLE_SSH_ARGS is an Ansible setting/);
    assert.doesNotMatch(found, /extraVars\.vm/);
  });

  it('refuses an extra var key that is not a variable name', () => {
    assert.match(problems('      extraVars:\n        "a-b": 1\n').join('\n'), /dag\.yaml:11:9 tasks\.p\.with\.extraVars\.a-b: "a-b" is not an Ansible variable name/);
  });

  it('accepts literal ansible_ variables and values from params under other names', () => {
    assert.deepEqual(problems('      extraVars:\n        ansible_user: cloud-user\n        vm_name: "${{ params.v }}"\n'), []);
  });
});
