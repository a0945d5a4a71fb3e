import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PROJECT_ROOT } from '../config/config';
import { qubinode } from './support/cli';

const fixtures = path.join(PROJECT_ROOT, 'test', 'fixtures', 'os');

describe('qubinode facts, diag and doctor', () => {
  it('prints facts of an image root as JSON', async () => {
    const result = await qubinode(['facts', '--root', path.join(fixtures, 'rhel-10.0'), '--json']);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { facts: { os: { id: string; majorVersion: number; family: string; packageManager: string } }; checks: { id: string; ok: boolean; message: string }[] };
    assert.deepEqual([report.facts.os.id, report.facts.os.majorVersion, report.facts.os.family, report.facts.os.packageManager], ['rhel', 10, 'rhel', 'dnf']);
    // No proc/cpuinfo under this root: the v3 check cannot pass and says why.
    assert.match(report.checks.find((check) => check.id === 'cpu.x86_64-v3')?.message ?? '', /CPU flags unreadable/);
  });

  it('prints facts of this host as a table', async () => {
    const result = await qubinode(['facts']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^os\s+\S+/m);
    assert.match(result.stdout, /^environment\s+(local|hetzner|equinix)/m);
  });

  it('prints one diagnostic as JSON and refuses an unknown one', async () => {
    const kvm = await qubinode(['diag', 'kvm', '--json']);
    assert.equal(kvm.code, 0, kvm.stderr);
    assert.equal(typeof (JSON.parse(kvm.stdout) as { ready: boolean }).ready, 'boolean');
    const bad = await qubinode(['diag', 'kvmm']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown diag tool "kvmm"/);
  });

  it('doctor reports each tool with a version or a fix', async () => {
    const result = await qubinode(['doctor', '--json']);
    const reports = JSON.parse(result.stdout) as { tool: string; present: boolean; version?: string; fix?: string }[];
    for (const tool of ['ansible-navigator', 'ansible-playbook', 'kcli', 'temporal']) assert.ok(reports.some((report) => report.tool === tool), tool);
    for (const report of reports) assert.ok(report.present ? report.fix === undefined || report.version === undefined : report.fix !== undefined, JSON.stringify(report));
  });
});
