import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { HostPolicyFileError, loadHostPolicyCap, withPolicyGate } from '../activities/platform/policy-gate';
import { exceptionId, pendingExceptions } from '../activities/platform/security-exceptions';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { checkDagFile } from '../dag-repos/compiler/compile';
import { formatDiagnostic } from '../dag-repos/compiler/diagnostics';
import { actionRefusal, globMatches, hostRefusal, needsVersionApproval, type RepoPolicy } from '../dag-repos/schema/repo-policy';
import { checkDagPolicy, parsePolicyText } from '../dag-repos/security/policy-files';
import { scanDagText } from '../dag-repos/security/scanner';
import { effectivePolicy, isAuthor } from '../workflows/repo-policy-types';

const registry = new ActionRegistry();

function policyDiagnostics(text: string, policy: RepoPolicy): string[] {
  const file = { repo: 'infra', path: 'dags/x.yaml', commit: 'c', text };
  const result = checkDagFile(file, { registry });
  assert.ok(result.dag && result.spec, result.diagnostics.map(formatDiagnostic).join('\n'));
  return checkDagPolicy(file, result.spec, result.dag, policy, 'infra').map(formatDiagnostic);
}

const SHELL_DAG = 'id: x\ntasks:\n  - id: ok\n    uses: noop\n  - id: run\n    uses: shell\n    with: { command: [echo, hi] }\n';

describe('repository policy: the rules (pure)', () => {
  it('matches action globs without building a regex from them', () => {
    assert.ok(globMatches('diag.*', 'diag.kvm'));
    assert.ok(globMatches('*', 'shell'));
    assert.ok(globMatches('kcli.*.create', 'kcli.vm.create'));
    assert.ok(!globMatches('diag.*', 'diagnostics'));
    assert.ok(!globMatches('shell', 'shell2'));
    // A pattern full of stars over a long name still answers (no exponential backtracking).
    assert.ok(!globMatches('*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(5000)));
  });

  it('refuses shell unless the policy says shell: true, even when actions match it', () => {
    assert.match(actionRefusal({ actions: ['*'] }, 'shell') ?? '', /does not allow shell/);
    assert.equal(actionRefusal({ actions: ['*'], shell: true }, 'shell'), undefined);
    assert.match(actionRefusal({ actions: ['diag.*'], shell: true }, 'http.check') ?? '', /allows only actions diag\.\*/);
  });

  it('refuses host.reboot with a verify command where shell is not allowed, pointing at the command', () => {
    const reboot = 'id: x\ntasks:\n  - id: reboot\n    uses: host.reboot\n    runsOn: hv1\n    with:\n      verify: { command: [uname, -r] }\n';
    const [diagnostic, ...rest] = policyDiagnostics(reboot, { actions: ['host.*'] });
    assert.match(diagnostic ?? '', /^dags\/x\.yaml:7:\d+ tasks\.reboot\.with\.verify\.command: host\.reboot's verify command is not allowed for repository infra: the policy does not allow shell/);
    assert.deepEqual(rest, []);
    // On the host the command runs as a shell step, which the actions list must allow too.
    assert.deepEqual(policyDiagnostics(reboot, { actions: ['host.*', 'shell'], shell: true }), []);
    assert.deepEqual(policyDiagnostics(reboot.replace('verify: { command: [uname, -r] }', 'verify: { kernel: "6.1" }'), { actions: ['host.*'] }), []);
  });

  it('refuses apt settings for updates.* where shell is not allowed: they choose what is installed as root', () => {
    const apply = (options: string): string => `id: x\nparams:\n  opts: { type: object, default: {} }\ntasks:\n  - id: up\n    uses: updates.apply\n    with:\n      packages: [libvirt-daemon]\n${options}`;
    const literal = apply('      aptOptions: { "Dir::Etc::SourceList": /srv/mirror/sources.list }\n');
    const [diagnostic, ...rest] = policyDiagnostics(literal, { actions: ['updates.*'] });
    assert.match(diagnostic ?? '', /^dags\/x\.yaml:9:\d+ tasks\.up\.with\.aptOptions: updates\.apply's apt settings \(which sources and lists packages come from\) is not allowed for repository infra: the policy does not allow shell/);
    assert.deepEqual(rest, []);
    // Settings that arrive as a param are refused the same way: the policy cannot see what they will say.
    assert.equal(policyDiagnostics(apply('      aptOptions: "${{ params.opts }}"\n'), { actions: ['updates.*'] }).length, 1);
    assert.deepEqual(policyDiagnostics(literal, { actions: ['updates.*', 'shell'], shell: true }), []);
    assert.deepEqual(policyDiagnostics(apply(''), { actions: ['updates.*'] }), [], 'the host\'s own apt configuration needs no shell');
  });

  it('refuses host.network-change as it refuses shell: its steps are commands the DAG writes', () => {
    assert.match(actionRefusal({}, 'host.network-change') ?? '', /does not allow shell \(host\.network-change runs the commands a DAG writes\)/);
    assert.match(actionRefusal({ actions: ['host.*'] }, 'host.network-change') ?? '', /does not allow shell/);
    assert.equal(actionRefusal({ actions: ['host.*'], shell: true }, 'host.network-change'), undefined);
    assert.equal(actionRefusal({ actions: ['host.*'] }, 'host.reboot'), undefined);
  });

  it('allows a host by its queue or by any one of its labels, and names what is allowed when it refuses', () => {
    const policy: RepoPolicy = { hosts: { queues: ['hv1'], labels: ['env=lab'] } };
    assert.equal(hostRefusal(policy, 'hv1'), undefined);
    assert.equal(hostRefusal(policy, 'hv7', { env: 'lab', rack: 'r1' }), undefined);
    assert.match(hostRefusal(policy, 'hv7', { env: 'production' }) ?? '', /only hosts with queue hv1 or label env=lab/);
    assert.equal(hostRefusal({}, 'anything'), undefined);
  });

  it('needs a version approval only on hosts carrying a listed label', () => {
    assert.ok(needsVersionApproval({ approveNewVersionsOn: ['env=production'] }, { env: 'production' }));
    assert.ok(!needsVersionApproval({ approveNewVersionsOn: ['env=production'] }, { env: 'lab' }));
    assert.ok(!needsVersionApproval(undefined, { env: 'production' }));
  });

  it('refuses a DAG that uses shell under a no-shell policy, with file, line and field', () => {
    assert.deepEqual(policyDiagnostics(SHELL_DAG, { shell: false }), ['dags/x.yaml:6:11 tasks.run.uses: action "shell" is not allowed for repository infra: the policy does not allow shell']);
  });

  it('refuses an action outside the allowed list and a compensation that uses one', () => {
    const text = 'id: x\ntasks:\n  - id: probe\n    uses: http.check\n    with: { url: "http://127.0.0.1:1/" }\n    compensate: { uses: shell, with: { command: ["true"] } }\n';
    const found = policyDiagnostics(text, { actions: ['noop', 'diag.*'] });
    assert.equal(found.length, 2);
    assert.match(found[0] ?? '', /^dags\/x\.yaml:4:\d+ tasks\.probe\.uses: action "http\.check" is not allowed for repository infra: the policy allows only actions noop, diag\.\*/);
    assert.match(found[1] ?? '', /^dags\/x\.yaml:6:\d+ tasks\.probe\.compensate: action "shell" is not allowed/);
  });

  it('refuses a literal runsOn the policy does not list, and leaves templated or label-allowed ones to the host', () => {
    const text = 'id: x\nparams: { host: { type: string, default: hv1 } }\ntasks:\n  - id: a\n    uses: noop\n    runsOn: hv9\n  - id: b\n    uses: noop\n    runsOn: "${{ params.host }}"\n  - id: c\n    uses: noop\n    runsOn: hv1\n';
    assert.deepEqual(policyDiagnostics(text, { hosts: { queues: ['hv1', 'hv2'] } }), ['dags/x.yaml:6:13 tasks.a.runsOn: runsOn "hv9" is not allowed for repository infra: the policy allows only queues hv1, hv2']);
    assert.deepEqual(policyDiagnostics(text, { hosts: { queues: ['hv1'], labels: ['env=lab'] } }), []);
  });

  it('accepts a complete policy file and refuses unknown fields, naming them', () => {
    const good = parsePolicyText('actions: [noop, "diag.*", shell]\nshell: true\nhosts: { queues: [hv1], labels: [env=lab] }\napproveNewVersionsOn: [env=production]\nsignedCommits:\n  - { name: release, key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOk5" }\n');
    assert.ok(good.ok, good.ok ? '' : good.problems.join('; '));
    const bad = parsePolicyText('actions: [noop]\nshel: true\n');
    assert.ok(!bad.ok);
    assert.match(bad.problems.join('; '), /shel/);
  });

  it('refuses hostile policy files: oversized, deeply nested, alias bombs, injected values', () => {
    const oversized = parsePolicyText(`actions: [${'"a",'.repeat(30_000)}"b"]\n`);
    assert.ok(!oversized.ok && /at most 65536/.test(oversized.problems[0] ?? ''));
    const deep = parsePolicyText(`hosts: ${'['.repeat(200)}${']'.repeat(200)}\n`);
    assert.ok(!deep.ok && /nest|deep/i.test(deep.problems.join(' ')), JSON.stringify(deep));
    const bomb = parsePolicyText(`a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nactions: [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n`);
    assert.ok(!bomb.ok);
    for (const text of ['actions: ["shell; rm -rf /"]\n', 'hosts: { labels: ["env=prod\\nrack=x"] }\n', 'signedCommits: [{ name: "x", key: "ssh-ed25519 AAAA -O no-touch-required" }]\n', 'hosts: { queues: ["../hv1"] }\n']) {
      const parsed = parsePolicyText(text);
      assert.ok(!parsed.ok, `accepted ${text}`);
    }
  });

  it('takes a repository\'s own policy over the default, and no policy at all means none', () => {
    const own = { policy: { shell: true }, setBy: 'a', setAt: 'now' };
    const fallback = { policy: { shell: false }, setBy: 'a', setAt: 'now' };
    assert.equal(effectivePolicy({ repos: { infra: own, '*': fallback } }, 'infra').policy?.shell, true);
    assert.equal(effectivePolicy({ repos: { '*': fallback } }, 'other').source, 'default');
    assert.equal(effectivePolicy({ repos: {} }, 'other').source, 'none');
  });

  it('knows the commit author by name, email or the email\'s local part, whatever the case', () => {
    const author = { name: 'Ada Lovelace', email: 'Ada@Example.org' };
    for (const who of ['ada lovelace', 'ada@example.org', 'ADA']) assert.ok(isAuthor(who, author), who);
    assert.ok(!isAuthor('grace', author));
  });

  it('holds a securityAllow back until approved, naming the command to approve it and the author', () => {
    const text = 'id: x\ntasks:\n  - id: wipe\n    uses: shell\n    securityAllow: [{ rule: dangerous-command, reason: lab reset on purpose }]\n    with: { script: "rm -rf /" }\n';
    const file = { repo: 'infra', path: 'dags/x.yaml', commit: 'c', text };
    const { spec } = checkDagFile(file, { registry });
    const findings = scanDagText(file, spec);
    const finding = findings.find((candidate) => candidate.rule === 'dangerous-command');
    assert.equal(finding?.allowedBecause, 'lab reset on purpose');
    assert.equal(finding?.task, 'wipe');
    const taskText = JSON.stringify(spec?.tasks[0]);
    const author = { name: 'Mallory', email: 'mallory@example.org' };
    const pending = pendingExceptions({ repo: 'infra', commit: 'a'.repeat(40), author, allowances: [{ finding: finding!, taskText }], approved: [] });
    assert.equal(pending.length, 1);
    assert.equal(finding?.allowedBecause, undefined, 'a pending exception no longer allows the finding');
    assert.match(finding?.message ?? '', new RegExp(`other than the commit's author Mallory <mallory@example.org>: qubinode policy approve-exception ${pending[0]?.id}`));
    // Approved: the finding stays allowed. An edited task is a new exception.
    const again = { ...finding!, allowedBecause: 'lab reset on purpose' };
    assert.deepEqual(pendingExceptions({ repo: 'infra', commit: 'a'.repeat(40), author, allowances: [{ finding: again, taskText }], approved: [pending[0]!.id] }), []);
    assert.notEqual(exceptionId({ repo: 'infra', file: 'dags/x.yaml', taskText: taskText.replace('rm -rf /', 'rm -rf / --x'), rule: 'dangerous-command', reason: 'lab reset on purpose' }), pending[0]?.id);
  });

  it('reads a host cap file and stops the worker on a missing, oversized or ill-shaped one', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'qubinode-cap-'));
    const file = (name: string, text: string): string => {
      writeFileSync(path.join(dir, name), text);
      return path.join(dir, name);
    };
    assert.deepEqual(loadHostPolicyCap(file('ok.yaml', 'repos: [infra, "lab-*"]\nactions: ["diag.*"]\n')), { repos: ['infra', 'lab-*'], actions: ['diag.*'] });
    assert.throws(() => loadHostPolicyCap(path.join(dir, 'missing.yaml')), HostPolicyFileError);
    assert.throws(() => loadHostPolicyCap(file('big.yaml', `repos: [${'"a",'.repeat(20_000)}]\n`)), /at most 65536/);
    assert.throws(() => loadHostPolicyCap(file('unknown.yaml', 'repos: [infra]\nshell: true\n')), /unrecognized|shell/i);
    assert.throws(() => loadHostPolicyCap(file('deep.yaml', `repos: ${'['.repeat(100)}${']'.repeat(100)}\n`)), HostPolicyFileError);
  });
});

describe('the host\'s policy gate reads policies sparingly', () => {
  const invocation = (taskId: string) => ({ runId: 'dag/infra/x/1', dagId: 'infra/x', taskId, with: {} });

  it('reads a repository\'s policy once for tasks arriving together, again once it is stale, and again after a failed read', async () => {
    let clock = 0;
    const reads: string[] = [];
    let answer: (policy: { repo: string; source: 'none' }) => void = () => undefined;
    let failNext = false;
    const gate = withPolicyGate(
      { noop: async () => 'ran' },
      {
        registry: new ActionRegistry(),
        labels: {},
        cacheMs: 1000,
        now: () => clock,
        policyFor: (repo) => {
          reads.push(repo);
          if (failNext) {
            failNext = false;
            return Promise.reject(new Error('policy workflow unreachable'));
          }
          return new Promise((resolve) => {
            answer = resolve;
          });
        },
      },
    );
    const env = new MockActivityEnvironment({ taskQueue: 'hv1' });
    const fanOut = Array.from({ length: 20 }, (_, index) => env.run(gate.noop, invocation(`t${index}`)));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(reads, ['infra'], 'twenty tasks, one read in flight');
    answer({ repo: 'infra', source: 'none' });
    assert.deepEqual(await Promise.all(fanOut), Array(20).fill('ran'));
    assert.equal(await env.run(gate.noop, invocation('cached')), 'ran');
    assert.equal(reads.length, 1, 'a fresh policy is reused');

    clock = 1500;
    failNext = true;
    await assert.rejects(env.run(gate.noop, invocation('stale')), /policy workflow unreachable/);
    const again = env.run(gate.noop, invocation('retried'));
    await new Promise((resolve) => setImmediate(resolve));
    answer({ repo: 'infra', source: 'none' });
    assert.equal(await again, 'ran');
    assert.equal(reads.length, 3, 'a stale policy is read again, and a failed read is not kept');
  });
});
