import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { HOST_REBOOT_WORKFLOW } from '../dag-repos/actions/host-actions';
import { HostRebootInput, MAX_DRAIN_GUESTS } from '../dag-repos/actions/host-reboot-input';
import { checkDagFile } from '../dag-repos/compiler/compile';
import { loadConfig } from '../config/config';
import { zodProblems } from '../config/zod-problems';

/** The inputs of host.reboot: what a DAG may ask of a reboot, and what never reaches virsh, kcli or the host. */

function problems(input: unknown): string[] {
  const parsed = HostRebootInput.safeParse(input);
  return parsed.success ? [] : zodProblems(parsed.error, '');
}

function compileReboot(withText: string): { ok: boolean; messages: string[] } {
  const text = `id: reboot\ntasks:\n  - id: reboot\n    uses: host.reboot\n    runsOn: hv2\n    with: ${withText}\n`;
  const { dag, diagnostics } = checkDagFile({ repo: 'r', path: 'reboot.yaml', commit: 'c', text }, { registry: new ActionRegistry() });
  return { ok: dag !== undefined && diagnostics.length === 0, messages: diagnostics.map((diagnostic) => `${diagnostic.path}: ${diagnostic.message}`) };
}

describe('host.reboot inputs', () => {
  it('is an action carried out by the hostReboot workflow', () => {
    const definition = new ActionRegistry().get('host.reboot');
    assert.deepEqual(definition?.execution, { kind: 'workflow', workflow: HOST_REBOOT_WORKFLOW });
    assert.ok(definition?.nonRetryableErrors.includes('HostDidNotComeBack'));
  });

  it('defaults to no drain and a 15 minute wait for the host', () => {
    const parsed = HostRebootInput.parse({});
    assert.equal(parsed.drain.mode, 'none');
    assert.equal(parsed.drain.tool, 'virsh');
    assert.equal(parsed.drain.guests, 'all');
    assert.equal(parsed.waitFor, '15m');
    assert.equal(parsed.verify, undefined);
  });

  it('accepts a shutdown drain of named guests with kcli, a migration with virsh, and a verify command with a kernel', () => {
    assert.deepEqual(problems({ drain: { mode: 'shutdown', tool: 'kcli', guests: ['web-1', 'db_2.example'], grace: '90s', client: 'local' }, waitFor: '20m' }), []);
    assert.deepEqual(problems({ drain: { mode: 'migrate', guests: 'all', migrateTo: 'hv3.example.com' } }), []);
    assert.deepEqual(problems({ drain: { mode: 'migrate', migrateTo: '[fd00::3]' } }), []);
    assert.deepEqual(problems({ verify: { command: ['systemctl', 'is-active', 'libvirtd'], kernel: '5.14.0-503.el9.x86_64' } }), []);
  });

  it('refuses guest names that would read as options, paths or shell', () => {
    for (const guest of ['--all', '-h', 'web;reboot', '../etc/passwd', 'a/b', 'web 1', '$(id)', '', 'x'.repeat(65), 'web\n1', '.hidden']) {
      const found = problems({ drain: { mode: 'shutdown', guests: [guest] } });
      assert.ok(found.some((problem) => problem.startsWith('drain.guests.0')), `${JSON.stringify(guest)}: ${found.join('; ')}`);
    }
  });

  it('refuses an empty or oversized list of guests', () => {
    assert.ok(problems({ drain: { mode: 'shutdown', guests: [] } }).length > 0);
    const many = Array.from({ length: MAX_DRAIN_GUESTS + 1 }, (_, index) => `vm${index}`);
    assert.ok(problems({ drain: { mode: 'shutdown', guests: many } }).some((problem) => problem.startsWith('drain.guests')));
  });

  it('refuses a migration target that is not a host name or address', () => {
    for (const target of ['-oProxyCommand=id', 'hv3/system?x', 'hv3 ;id', 'user@hv3', 'qemu+ssh://hv3/system', '']) {
      assert.ok(problems({ drain: { mode: 'migrate', migrateTo: target } }).some((problem) => problem.startsWith('drain.migrateTo')), target);
    }
  });

  it('refuses drains that do not hang together', () => {
    assert.match(problems({ drain: { mode: 'migrate' } }).join(), /migrate needs migrateTo/);
    assert.match(problems({ drain: { mode: 'shutdown', migrateTo: 'hv3' } }).join(), /only for mode migrate/);
    assert.match(problems({ drain: { mode: 'migrate', migrateTo: 'hv3', tool: 'kcli' } }).join(), /no live migration/);
    assert.match(problems({ drain: { mode: 'shutdown', client: 'local' } }).join(), /client is a kcli setting/);
    assert.ok(problems({ drain: { mode: 'evacuate' } }).length > 0);
    assert.ok(problems({ drain: { mode: 'none', extra: true } }).length > 0, 'unknown keys are refused');
  });

  it('refuses durations that are not durations or that would keep a host down for days', () => {
    assert.ok(problems({ waitFor: '15 minutes' }).length > 0);
    assert.match(problems({ waitFor: '25h' }).join(), /at most 24h/);
    assert.match(problems({ waitFor: '99999999d' }).join(), /at most 24h/);
    assert.match(problems({ drain: { mode: 'shutdown', grace: '2h' } }).join(), /at most 1h/);
  });

  it('refuses a verify that checks nothing, an empty program and oversized commands', () => {
    assert.match(problems({ verify: {} }).join(), /a command, a kernel, or both/);
    assert.ok(problems({ verify: { command: [] } }).length > 0);
    assert.ok(problems({ verify: { command: [''] } }).length > 0);
    assert.ok(problems({ verify: { command: Array.from({ length: 65 }, () => 'x') } }).length > 0);
    assert.ok(problems({ verify: { command: ['echo', 'x'.repeat(5000)] } }).length > 0);
    assert.ok(problems({ verify: { command: 'systemctl is-active libvirtd' } }).length > 0, 'a string is not argv');
  });

  it('is checked when the DAG is compiled, naming the field', () => {
    assert.equal(compileReboot("{ drain: { mode: shutdown, guests: ['web;reboot'] } }").ok, false);
    const bad = compileReboot("{ drain: { mode: shutdown, guests: ['web;reboot'] } }");
    assert.match(bad.messages.join('\n'), /tasks\.reboot\.with\.drain\.guests.*a guest name is/);
    const good = compileReboot("{ drain: { mode: shutdown, guests: [web1] }, waitFor: 20m, verify: { command: ['true'] } }");
    assert.equal(good.ok, true, good.messages.join('\n'));
  });
});

describe('QUBINODE_REBOOT_COMMAND and QUBINODE_REBOOT_CHANGES', () => {
  it('default to systemctl reboot judged by the boot id', () => {
    assert.deepEqual(loadConfig({}).reboot, { command: ['systemctl', 'reboot'], changes: 'boot' });
  });

  it('take a JSON argv list, kept as given (no shell, no splitting)', () => {
    const config = loadConfig({ QUBINODE_REBOOT_COMMAND: '["/opt/lab/reboot.sh","hv2; id","$(id)"]', QUBINODE_REBOOT_CHANGES: 'worker' });
    assert.deepEqual(config.reboot, { command: ['/opt/lab/reboot.sh', 'hv2; id', '$(id)'], changes: 'worker' });
  });

  it('refuse a command line, an empty list, non-strings, NUL bytes and an unknown kind of change', () => {
    for (const bad of ['systemctl reboot', '[]', '[""]', '["reboot",1]', '{"program":"reboot"}', '["re\\u0000boot"]', JSON.stringify(Array.from({ length: 65 }, () => 'x'))]) {
      assert.throws(() => loadConfig({ QUBINODE_REBOOT_COMMAND: bad }), /QUBINODE_REBOOT_COMMAND/, bad);
    }
    assert.throws(() => loadConfig({ QUBINODE_REBOOT_CHANGES: 'kernel' }), /QUBINODE_REBOOT_CHANGES/);
  });
});
