import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { findTool } from '../../config/tool-paths';
import type { ActionInvocation, ActionResult } from '../../dag-repos/actions/action-types';
import { collectSecretRefs } from '../../dag-repos/compiler/secret-references';
import { ANSIBLE_NON_RETRYABLE_ERRORS, createAnsibleActivities } from './ansible';
import { withSecretScope } from '../process/secret-scope';

// Real ansible-navigator and ansible-playbook from .tools/venv (infra/setup.sh), against localhost.
const quiet: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const fixtures = path.resolve(__dirname, '..', '..', 'test', 'fixtures', 'ansible');
const inventory = path.join(fixtures, 'inventory.ini');
const missing = ['ansible-navigator', 'ansible-playbook'].filter((tool) => findTool(tool) === undefined);
const skip = missing.length > 0 ? `${missing.join(', ')} not installed: run bash infra/setup.sh` : false;

let logRoot: string;
let activities: ReturnType<typeof createAnsibleActivities>;

before(async () => {
  logRoot = await mkdtemp(path.join(os.tmpdir(), 'qubinode-ansible-test-'));
  activities = createAnsibleActivities({ logRoot, dagDirectories: [{ repo: 'fixtures', dir: fixtures }] });
});
after(async () => {
  await rm(logRoot, { recursive: true, force: true });
});

async function play(input: Record<string, unknown>, heartbeats: unknown[] = []): Promise<ActionResult> {
  const env = new MockActivityEnvironment(undefined, { logger: quiet });
  env.on('heartbeat', (details: unknown) => heartbeats.push(details));
  // As the worker runs it: inside the secret scope, with the references written in `input` as the author's.
  const inv: ActionInvocation<never> = { runId: 'dag/fixtures/ansible/1', dagId: 'fixtures/ansible', taskId: `t${Math.random().toString(36).slice(2, 8)}`, with: input as never, secretRefs: collectSecretRefs(input) };
  const { ansiblePlaybook } = withSecretScope(activities);
  return env.run<[ActionInvocation<never>], ActionResult, typeof ansiblePlaybook>(ansiblePlaybook, inv);
}

function failure(type: string, check: (failure: ApplicationFailure, details: Record<string, unknown>) => void = () => {}) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
    assert.equal(error.type, type, error.message);
    check(error, (error.details?.[0] ?? {}) as Record<string, unknown>);
    return true;
  };
}

for (const runner of ['ansible-navigator', 'ansible-playbook'] as const) {
  describe(`ansible.playbook with ${runner}`, { skip }, () => {
    it('runs a playbook and reports per-host stats, with the current task in heartbeats', async () => {
      const scratch = await mkdtemp(path.join(os.tmpdir(), 'qubinode-marker-'));
      const heartbeats: unknown[] = [];
      const result = await play({ playbook: 'ok.yml', inventory, runner, extraVars: { who: 'qubinode', marker: path.join(scratch, 'm') } }, heartbeats);
      assert.equal(result.outputs.runner, runner);
      assert.deepEqual(result.outputs.stats, { localhost: { ok: 2, changed: 1, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0 } });
      assert.equal(result.outputs.changed, true);
      assert.deepEqual(result.outputs.failedTasks, []);
      assert.equal(await readFile(path.join(scratch, 'm'), 'utf8'), 'qubinode\n');
      assert.match(await readFile(result.logPath ?? '', 'utf8'), /hello qubinode/);
      const tasks = heartbeats.map((beat) => (beat as { task?: string }).task);
      assert.ok(tasks.includes('Report a greeting') || tasks.includes('Write a marker file'), `heartbeats: ${JSON.stringify(heartbeats)}`);
      await rm(scratch, { recursive: true, force: true });
    });

    it('surfaces the failing task with its host, module and message', async () => {
      await assert.rejects(
        play({ playbook: path.join(fixtures, 'fail.yml'), inventory, runner }),
        failure('AnsibleTaskFailed', (error, details) => {
          assert.equal(error.nonRetryable, false);
          assert.match(error.message, /\[localhost\] Check the bridge exists \(ansible\.builtin\.command\)/);
          assert.match(error.message, /No such file or directory/);
          const failed = details.failedTasks as { host: string; task: string; module: string; message: string }[];
          assert.equal(failed.length, 1);
          assert.deepEqual({ ...failed[0], message: undefined }, { host: 'localhost', task: 'Check the bridge exists', module: 'ansible.builtin.command', message: undefined });
          assert.equal((details.stats as Record<string, { failed: number }>).localhost?.failed, 1);
        }),
      );
    });

    it('reports an unreachable host as retryable', async () => {
      await assert.rejects(
        play({ playbook: 'unreachable.yml', inventory, runner }),
        failure('AnsibleHostUnreachable', (error, details) => {
          assert.equal(error.nonRetryable, false);
          assert.match(error.message, /deadhost/);
          assert.equal((details.stats as Record<string, { unreachable: number }>).deadhost?.unreachable, 1);
        }),
      );
    });

    it('fails a playbook with a syntax error without retrying, naming the problem', async () => {
      await assert.rejects(
        play({ playbook: 'syntax-error.yml', inventory, runner }),
        failure('AnsiblePlaybookInvalid', (error) => {
          assert.equal(error.nonRetryable, true);
          assert.ok(ANSIBLE_NON_RETRYABLE_ERRORS.includes(error.type ?? ''));
          assert.match(error.message, /syntax|YAML|parsing/i);
        }),
      );
    });
  });
}

describe('ansible.playbook options', { skip }, () => {
  it('changes nothing in check mode', async () => {
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'qubinode-marker-'));
    const result = await play({ playbook: 'ok.yml', inventory, check: true, extraVars: { marker: path.join(scratch, 'm') } });
    assert.equal((result.outputs.stats as Record<string, { changed: number }>).localhost?.changed, 1);
    await assert.rejects(readFile(path.join(scratch, 'm')), /ENOENT/);
    await rm(scratch, { recursive: true, force: true });
  });

  it('decrypts vault-encrypted vars with the password from a secret reference, never logging it', async () => {
    process.env.QUBINODE_TEST_VAULT_PASS = 'fixture-vault-pass';
    const result = await play({ playbook: 'vault.yml', inventory, vaultPasswordSecret: 'secret://env/QUBINODE_TEST_VAULT_PASS' });
    assert.equal((result.outputs.stats as Record<string, { ok: number }>).localhost?.ok, 1);
    assert.doesNotMatch(await readFile(result.logPath ?? '', 'utf8'), /fixture-vault-pass/);
  });

  it('fails without retrying when the vault password is wrong', async () => {
    process.env.QUBINODE_TEST_VAULT_PASS_BAD = 'wrong';
    await assert.rejects(play({ playbook: 'vault.yml', inventory, runner: 'ansible-playbook', vaultPasswordSecret: 'secret://env/QUBINODE_TEST_VAULT_PASS_BAD' }), failure('AnsiblePlaybookInvalid', (error) => assert.match(error.message, /[Dd]ecryption failed/)));
  });

  it('refuses a playbook that is missing or outside the repository', async () => {
    await assert.rejects(play({ playbook: 'nope.yml', inventory }), failure('AnsibleFileNotFound', (error) => assert.match(error.message, /"nope.yml" does not exist in repository "fixtures"/)));
    await assert.rejects(play({ playbook: '../x.yml' }), failure('InvalidActionInput'));
  });
});
