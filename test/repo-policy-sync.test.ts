import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { addRepo, getRepo, removeRepo, syncAndWait } from '../client/repos';
import { approveException, PolicyError, readPolicies, setPolicy, type PolicyStore } from '../client/repo-policy';
import type { RepoPolicy } from '../dag-repos/schema/repo-policy';
import { startTestEngine, type TestEngine } from './support/engine';
import { dagYaml, GitFixture } from './support/git-fixture';

/** A real SSH key pair made by ssh-keygen: its private key file and its public key as "TYPE BASE64". */
function sshKey(dir: string, name: string): { file: string; publicKey: string } {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', file]);
  const [type, key] = readFileSync(`${file}.pub`, 'utf8').trim().split(' ');
  return { file, publicKey: `${type} ${key}` };
}

describe('repository policy at sync (real git, real ssh-keygen, real Temporal)', () => {
  let engine: TestEngine;
  let store: PolicyStore;
  let git: GitFixture;
  let first: string;
  const name = `pol${randomUUID().slice(0, 8)}`;
  const policyId = `policy/test-${randomUUID()}`;
  const set = (policy: RepoPolicy | null) => setPolicy(store, name, policy, 'test-admin');

  before(async () => {
    engine = await startTestEngine({ env: { QUBINODE_POLICY_WORKFLOW_ID: policyId } });
    store = { client: engine.client, workflowId: policyId, taskQueue: engine.taskQueue };
    git = new GitFixture();
    git.write('dags/hello.yaml', 'id: hello\ntasks:\n  - id: a\n    uses: noop\n');
    first = git.commitAndPush('first');
    await set({ actions: ['noop', 'shell', 'diag.*'], shell: false, hosts: { queues: ['hv1', 'hv2'] } });
    await addRepo(engine.client, { name, url: git.bare, branch: 'main' }, engine.taskQueue);
  });
  after(async () => {
    await removeRepo(engine.client, name).catch(() => undefined);
    // The policy store of this suite would otherwise outlive it, on a queue nobody polls.
    await engine.client.workflow.getHandle(policyId).terminate('test done').catch(() => undefined);
    await engine.close();
    git.cleanup();
  });

  it('accepts a commit the policy allows', async () => {
    const record = await syncAndWait(engine.client, name);
    // Adding the repository may have synced it already; either way the allowed commit is the live one.
    assert.ok(record.state === 'accepted' || record.state === 'unchanged', `${record.state}: ${record.message}`);
    assert.equal((await getRepo(engine.client, name)).active?.commit, first);
  });

  it('refuses a push whose DAG uses shell or a forbidden queue, naming file, line and field, and keeps the last good commit live with nothing half-applied', async () => {
    const good = (await getRepo(engine.client, name)).active?.commit;
    git.write('dags/shell.yaml', dagYaml('shelly'));
    git.write('dags/far.yaml', 'id: far\ntasks:\n  - id: a\n    uses: noop\n    runsOn: hv9\n');
    git.write('dags/fine.yaml', 'id: fine\ntasks:\n  - id: a\n    uses: noop\n    runsOn: hv2\n');
    const bad = git.commitAndPush('shell and a far host');
    const record = await syncAndWait(engine.client, name);
    assert.equal(record.state, 'rejected');
    assert.equal(record.commit, bad);
    const problems = record.errors.flatMap((error) => error.problems);
    assert.ok(problems.some((line) => /^dags\/shell\.yaml:\d+:\d+ tasks\.say\.uses: action "shell" is not allowed for repository pol\w+: the policy does not allow shell$/.test(line)), problems.join('\n'));
    assert.ok(problems.some((line) => /^dags\/far\.yaml:5:\d+ tasks\.a\.runsOn: runsOn "hv9" is not allowed .*queues hv1, hv2$/.test(line)), problems.join('\n'));
    const view = await getRepo(engine.client, name);
    assert.equal(view.active?.commit, good);
    assert.deepEqual(view.active?.dags.map((dag) => dag.id), ['hello'], 'the allowed DAG of the refused commit is not live either');
    git.remove('dags/shell.yaml').remove('dags/far.yaml').remove('dags/fine.yaml');
  });

  it('holds a securityAllow until someone other than the commit author approves it; the author is refused', async () => {
    await set({ shell: true });
    git.write('dags/wipe.yaml', 'id: wipe\ntasks:\n  - id: reset\n    uses: shell\n    securityAllow: [{ rule: dangerous-command, reason: lab disks are disposable }]\n    with: { script: "rm -rf /" }\n');
    const commit = git.commitAndPush('a waived finding');
    const held = await syncAndWait(engine.client, name);
    assert.equal(held.state, 'rejected', held.message);
    const finding = held.findings.find((candidate) => candidate.rule === 'dangerous-command');
    assert.equal(finding?.allowedBecause, undefined);
    const id = /approve-exception ([0-9a-f]+)/.exec(finding?.message ?? '')?.[1];
    assert.ok(id, finding?.message);
    assert.match(finding?.message ?? '', /other than the commit's author Test <test@example\.invalid>/);
    const pending = (await readPolicies(store)).exceptions.find((entry) => entry.id === id);
    assert.equal(pending?.state, 'pending');
    assert.equal(pending?.commit, commit);
    for (const author of ['Test', 'test@example.invalid', 'TEST']) {
      await assert.rejects(approveException(store, { id, by: author }), (error: Error) => error instanceof PolicyError && /needs an approver other than its author/.test(error.message), author);
    }
    // An admin acting for the author is refused as well.
    await assert.rejects(approveException(store, { id, by: 'root', onBehalfOf: 'test' }), PolicyError);
    const approved = await approveException(store, { id, by: 'reviewer' });
    assert.equal(approved.approvedBy, 'reviewer');
    const record = await syncAndWait(engine.client, name);
    assert.equal(record.state, 'accepted', record.message);
    assert.equal(record.findings.find((candidate) => candidate.rule === 'dangerous-command')?.allowedBecause, 'lab disks are disposable');
  });

  it('refuses unsigned and wrongly signed commits when the policy requires signatures, and accepts one signed by an allowed key', async () => {
    const trusted = sshKey(git.root, 'trusted');
    const stranger = sshKey(git.root, 'stranger');
    await set({ shell: true, signedCommits: [{ name: 'release@example.invalid', key: trusted.publicKey }] });
    git.write('dags/hello.yaml', 'id: hello\ndescription: unsigned\ntasks:\n  - id: a\n    uses: noop\n');
    git.commitAndPush('unsigned');
    const unsigned = await syncAndWait(engine.client, name);
    assert.equal(unsigned.state, 'rejected');
    assert.match(unsigned.message, /requires commits signed by release@example\.invalid, and it is not signed$/);
    const signedBy = (key: string, message: string): string => {
      git.write('dags/hello.yaml', `id: hello\ndescription: ${message}\ntasks:\n  - id: a\n    uses: noop\n`);
      git.git(git.work, 'add', '-A');
      git.git(git.work, '-c', 'gpg.format=ssh', '-c', `user.signingkey=${key}`, 'commit', '--quiet', '-S', '-m', message);
      git.git(git.work, 'push', '--quiet', 'origin', 'HEAD:main');
      return git.head();
    };
    signedBy(stranger.file, 'signed by a stranger');
    const wrong = await syncAndWait(engine.client, name);
    assert.equal(wrong.state, 'rejected');
    assert.match(wrong.message, /requires commits signed by release@example\.invalid, and its signature (is by a key the policy does not list|cannot be checked)/);
    const good = signedBy(trusted.file, 'signed by release');
    const accepted = await syncAndWait(engine.client, name);
    assert.equal(accepted.state, 'accepted', accepted.message);
    assert.equal((await getRepo(engine.client, name)).active?.commit, good);
  });
});
