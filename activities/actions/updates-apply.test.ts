import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ActionRegistry } from '../../dag-repos/actions/registry';
import { UpdatesApplyInput, UpdatesDetectInput, UpdatesRevertInput } from '../../dag-repos/actions/updates-inputs';
import { checkDagFile } from '../../dag-repos/compiler/compile';
import type { ActionInvocation, ActionResult } from '../../dag-repos/actions/action-types';
import { aptConfigArgs } from './package-manager';
import { createUpdatesApplyActivities } from './updates-apply';
import { createUpdatesActivities } from './updates-detect';
import { zodProblems } from '../../config/zod-problems';

// The inputs of updates.detect and updates.apply reach apt-get and dnf as arguments, run as root:
// hostile values are refused before any package manager runs. The real update is test/apt-update.test.ts.
const scratch = mkdtempSync(path.join(tmpdir(), 'qubinode-updates-input-'));
const marker = path.join(scratch, 'ran');
after(() => rmSync(scratch, { recursive: true, force: true }));
const quiet: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

function refusal(input: unknown): string {
  const parsed = UpdatesApplyInput.safeParse(input);
  assert.equal(parsed.success, false, `accepted ${JSON.stringify(input).slice(0, 200)}`);
  return (parsed.error ? zodProblems(parsed.error, '').join('; ') : '');
}

async function invoke(activity: 'updatesApply' | 'updatesDetect', input: Record<string, unknown>): Promise<ActionResult> {
  const env = new MockActivityEnvironment(undefined, { logger: quiet });
  const inv: ActionInvocation = { runId: 'dag/test/updates/1', dagId: 'test/updates', taskId: 't', with: input };
  const fn = activity === 'updatesApply' ? createUpdatesApplyActivities({ logRoot: scratch }).updatesApply : createUpdatesActivities().updatesDetect;
  return env.run<[ActionInvocation], ActionResult, typeof fn>(fn, inv);
}

const invalidInput = (pattern: RegExp) => (error: unknown): boolean => {
  assert.ok(error instanceof ApplicationFailure, String(error));
  assert.equal(error.type, 'InvalidActionInput');
  assert.equal(error.nonRetryable, true);
  assert.match(error.message, pattern);
  return true;
};

describe('updates.* inputs', () => {
  it('refuses apt settings that name programs or commands, whatever their spelling', () => {
    for (const key of ['DPkg::Pre-Invoke', 'dpkg::pre-invoke', 'APT::Update::Post-Invoke-Success', 'Dir::Bin::dpkg', 'Acquire::http::Proxy-Auto-Detect', 'Dir::Etc::SourceList=x', 'Dir::Etc::SourceList\n']) {
      assert.match(refusal({ packages: ['vim'], aptOptions: { [key]: '/bin/true' } }), /is not allowed; allowed: Dir::Etc::SourceList/, key);
    }
  });

  it('refuses apt setting values that are not one absolute path on one line, or that are oversized', () => {
    for (const value of ['relative/sources.list', '', '/tmp/a\n-o DPkg::Pre-Invoke::=touch /tmp/x', '/tmp/a\0b', `/${'a'.repeat(1100)}`]) {
      assert.match(refusal({ packages: ['vim'], aptOptions: { 'Dir::Etc::SourceList': value } }), /aptOptions\.Dir::Etc::SourceList: (an absolute path on one line|.*1024)/, JSON.stringify(value.slice(0, 40)));
    }
  });

  it('refuses package names that would be read as options or hold spaces, an empty list, and oversized lists', () => {
    for (const name of ['-oDPkg::Pre-Invoke::=touch /tmp/x', '--allow-unauthenticated', 'vim curl', 'vim;id', '$(id)', '../x', 'a'.repeat(129)]) {
      assert.match(refusal({ packages: [name] }), /^packages\.0: /, name);
    }
    assert.match(refusal({ packages: [] }), /^packages: /);
    assert.match(refusal({ packages: Array.from({ length: 1001 }, (_, index) => `p${index}`) }), /^packages: /);
    assert.equal(UpdatesDetectInput.safeParse({ packages: [{ nested: { deeper: 'x' } }] }).success, false);
  });

  it('refuses revert targets whose version or name could be read as an option or a second package', () => {
    const refused = (entry: unknown): boolean => !UpdatesRevertInput.safeParse({ packages: [entry] }).success;
    for (const from of ['-1.0', '--allow-unauthenticated', '1.0 evil=2', '1.0\n', '', 'x1.0', '9'.repeat(129)]) assert.ok(refused({ name: 'vim', from }), JSON.stringify(from));
    assert.ok(refused({ name: 'vim=1.0', from: '1.0' }));
    assert.ok(refused({ name: 'vim', from: '1.0', script: 'id' }), 'unknown fields are refused');
    assert.ok(!refused({ name: 'vim', from: '2:9.0.1378-2', to: '2:9.0.1378-2+deb12u1' }));
  });

  it('passes allowed settings to apt-get as -o arguments in apt\'s own spelling, keys matched without regard to case', () => {
    const input = UpdatesApplyInput.parse({ packages: ['qubinode-canary', 'libc6:amd64'], aptOptions: { 'dir::etc::sourcelist': '/srv/u/sources.list', 'Dir::State': '/srv/u/state' } });
    assert.deepEqual(aptConfigArgs(input.aptOptions), ['-o', 'Dir::Etc::SourceList=/srv/u/sources.list', '-o', 'Dir::State=/srv/u/state']);
  });

  it('fails the task without retrying, and runs nothing, when a hostile value arrives through params', async () => {
    const hostile = { packages: ['vim'], aptOptions: { 'DPkg::Pre-Invoke::': `touch ${marker}` } };
    await assert.rejects(invoke('updatesApply', hostile), invalidInput(/^invalid input for updates\.apply: .*with\.aptOptions\.DPkg::Pre-Invoke::: apt setting "DPkg::Pre-Invoke::" is not allowed/));
    await assert.rejects(invoke('updatesDetect', { aptOptions: { 'APT::Update::Pre-Invoke::': `touch ${marker}` }, refresh: true }), invalidInput(/with\.aptOptions\.APT::Update::Pre-Invoke::/));
    await assert.rejects(invoke('updatesApply', { packages: [`-oDPkg::Pre-Invoke::=touch ${marker}`] }), invalidInput(/with\.packages\.0: a package name/));
    assert.equal(existsSync(marker), false, 'no command ran');
  });

  it('refuses a DAG that writes a command-running apt setting, at compile time with its line', () => {
    const text = `id: hostile-apt
tasks:
  - id: apply
    uses: updates.apply
    with:
      packages: [vim]
      aptOptions:
        "DPkg::Post-Invoke": "/bin/true"
`;
    const result = checkDagFile({ repo: 'test', path: 'dag.yaml', commit: 'test', text }, { registry: new ActionRegistry() });
    assert.equal(result.dag, undefined);
    assert.match(result.diagnostics.map((d) => `${d.line}:${d.column} ${d.path}: ${d.message}`).join('\n'), /tasks\.apply\.with\.aptOptions\.DPkg::Post-Invoke.*is not allowed/);
  });
});
