import assert from 'node:assert/strict';
import { accessSync, constants, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../config/config';
import { findTool } from '../config/tool-paths';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';

/** /dev/kvm usable and vmx/svm exposed: what host.preflight requires without allowEmulation. */
function hardwareVirtualization(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return false;
  }
  return /^flags\s*:.*\b(vmx|svm)\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
}

// The example infrastructure DAGs through the real engine: Temporal dev server, real worker, real tools.
const examples = path.join(PROJECT_ROOT, 'dag-repos', 'examples', 'dags');
let engine: TestEngine;

before(async () => {
  engine = await startTestEngine();
});
after(async () => {
  await engine.close();
});

describe('infrastructure DAGs on the real engine', () => {
  // Without allow_emulation the bootstrap wants KVM. On a host that has it, this run would go on to change the
  // host for real with the DAG's default names; test/hypervisor-bootstrap.test.ts runs it with names of its own.
  it('stops hypervisor-bootstrap at preflight, naming what this host lacks, when it has no KVM and emulation is not allowed', { skip: hardwareVirtualization() ? 'this host has KVM: the bootstrap would run past preflight' : false }, async () => {
    const dag = engine.compile(readFileSync(path.join(examples, 'hypervisor-bootstrap.yaml'), 'utf8'));
    const status = await engine.run(dag);
    const preflight = status.tasks.find((task) => task.id === 'preflight');
    assert.equal(status.state, 'failed');
    assert.equal(preflight?.state, 'failed');
    assert.equal(preflight?.attempt, 1);
    assert.equal(preflight?.error?.type, 'PreflightFailed');
    // The failed checks are named; Debian 12 is a supported hypervisor OS now, so only KVM is missing here.
    assert.match(preflight?.error?.message ?? '', /^preflight failed on this host: (kvm\.device|kvm\.cpu): /);
    assert.doesNotMatch(preflight?.error?.message ?? '', /os\.supported/);
    const states = taskStates(status);
    for (const id of ['rhel-repos', 'packages-rhel', 'packages-debian', 'libvirt', 'bridge', 'network', 'pool', 'firewall', 'validate', 'smoke-vm', 'smoke-cleanup']) assert.equal(states[id], 'skipped', id);
  });

  it('runs hypervisor-health diagnostics on the host workers named by runsOn', async () => {
    const dag = engine.compile(readFileSync(path.join(examples, 'hypervisor-health.yaml'), 'utf8'));
    const status = await engine.run(dag, { hosts: [engine.taskQueue] });
    assert.deepEqual(taskStates(status), { kvm: 'succeeded', resources: 'succeeded', services: 'succeeded', network: 'succeeded', report: 'succeeded' });
    const report = status.tasks.find((task) => task.id === 'report')?.outputs as { kvm: { ready: boolean; problems: string[] }[] };
    assert.equal(typeof report.kvm[0]?.ready, 'boolean');
  });

  it('runs a playbook task and carries its stats and failed tasks into the run status', { skip: findTool('ansible-playbook') === undefined ? 'ansible not installed' : false }, async () => {
    const fixtures = path.join(PROJECT_ROOT, 'test', 'fixtures', 'ansible');
    const dag = engine.compile(`
id: ansible-engine
tasks:
  - id: ok
    uses: ansible.playbook
    with:
      playbook: ${path.join(fixtures, 'ok.yml')}
      inventory: ${path.join(fixtures, 'inventory.ini')}
  - id: broken
    uses: ansible.playbook
    needs: ok
    retry: { attempts: 2, delay: 1s }
    with:
      playbook: ${path.join(fixtures, 'syntax-error.yml')}
      inventory: ${path.join(fixtures, 'inventory.ini')}
`);
    const status = await engine.run(dag);
    const ok = status.tasks.find((task) => task.id === 'ok');
    assert.equal(ok?.state, 'succeeded');
    assert.deepEqual((ok?.outputs?.stats as Record<string, { ok: number }>).localhost?.ok, 1);
    const broken = status.tasks.find((task) => task.id === 'broken');
    assert.equal(broken?.error?.type, 'AnsiblePlaybookInvalid');
    assert.equal(broken?.attempt, 1, 'a syntax error is not retried');
  });
});
