import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT, loadConfig } from '../config/config';
import { compileDagFile } from '../dag-repos/compiler/compile';
import { actionRegistryWith, loadConfiguredPlugins } from '../plugins/plugin-actions';
import { conditionExpression } from '../dag-repos/compiler/expression-checks';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import { evaluateExpression } from '../dag-repos/expressions';
import { resolveParams } from '../dag-repos/schema/params';
import { factContext, gatherFacts } from '../plugins/facts';
import { loadPlugins } from '../plugins/loader';
import type { HostFeatures } from '../activities/platform/host-features';
import type { DagRunStatus } from '../workflows/run-status';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';
import { kcliSandbox, type KcliSandbox } from './support/libvirt';

// examples/hypervisor-bootstrap on this machine, for real: apt, ansible, ip, the real libvirtd (software
// emulation), kcli. Every object it creates is named qboot<suffix> and removed in `after`; the uplink the
// bridge gets is a dummy interface made here, so the machine's own uplink is never touched.
// test-tier: slow
const examples = path.join(PROJECT_ROOT, 'dag-repos', 'examples');
const dagText = readFileSync(path.join(examples, 'dags', 'hypervisor-bootstrap.yaml'), 'utf8');
const suffix = randomBytes(3).toString('hex');
const names = {
  bridge: `qbootb${suffix}`,
  uplink: `qbootd${suffix}`,
  uplinkPeer: `qbootp${suffix}`,
  // kcli refuses network names over 16 characters (the NAT bridge is named after them).
  bridgeNet: `qbootm${suffix}`,
  natNet: `qbootn${suffix}`,
  pool: `qboot-pool-${suffix}`,
  smoke: `qboot-${suffix}`,
};

let engine: TestEngine | undefined;
let box: KcliSandbox | undefined;
let skip: string | false = false;
const savedEnv = { HOME: process.env.HOME, KCLI_CONFIG: process.env.KCLI_CONFIG };

function sh(file: string, args: string[]): { ok: boolean; out: string } {
  try {
    return { ok: true, out: execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (error) {
    return { ok: false, out: String((error as { stderr?: string }).stderr ?? error) };
  }
}
const virsh = (...args: string[]) => sh('virsh', ['-c', 'qemu:///system', ...args]);
const link = (name: string): { master?: string; linkinfo?: { info_kind?: string }; addr_info?: unknown[] } | undefined => {
  const shown = sh('ip', ['-j', '-d', 'addr', 'show', 'dev', name]);
  return shown.ok ? (JSON.parse(shown.out) as { master?: string }[])[0] : undefined;
};
const defaultRouteDevice = (): string | undefined => (JSON.parse(sh('ip', ['-j', 'route', 'show', 'default']).out || '[]') as { dev?: string }[])[0]?.dev;

/** Deletes this test's rules from the DAG's nftables chain, and the table once no rule is left in it. */
function removeFirewallRules(bridge: string): void {
  const listed = sh('nft', ['-a', 'list', 'chain', 'inet', 'qubinode', 'forward']);
  if (!listed.ok) return;
  for (const line of listed.out.split('\n')) {
    const handle = /"([^"]+)" accept # handle (\d+)/.exec(line);
    if (handle?.[1] === bridge && handle[2] !== undefined) sh('nft', ['delete', 'rule', 'inet', 'qubinode', 'forward', 'handle', handle[2]]);
  }
  if (!/"[^"]+" accept/.test(sh('nft', ['list', 'table', 'inet', 'qubinode']).out)) sh('nft', ['delete', 'table', 'inet', 'qubinode']);
}

function params(extra: Record<string, unknown>): Record<string, unknown> {
  return { pool_name: names.pool, pool_path: path.join(box?.dir ?? '/nonexistent', 'pool'), allow_emulation: true, smoke_name: names.smoke, ...extra };
}
const bridgeParams = () => params({ network_mode: 'bridge', bridge_name: names.bridge, bridge_uplink: names.uplink, network_name: names.bridgeNet });

function task(status: DagRunStatus, id: string) {
  const found = status.tasks.find((entry) => entry.id === id);
  assert.ok(found, `task ${id}`);
  return found;
}
const durations = (status: DagRunStatus): string =>
  status.tasks
    .filter((entry) => entry.startedAt !== undefined && entry.endedAt !== undefined)
    .map((entry) => `${entry.id} ${Math.round((Date.parse(entry.endedAt ?? '') - Date.parse(entry.startedAt ?? '')) / 1000)}s`)
    .join(', ');
const changed = (status: DagRunStatus, id: string): unknown => task(status, id).outputs?.changed;

describe('hypervisor-bootstrap on this machine', () => {
  before(async () => {
    if (process.getuid?.() !== 0) {
      skip = 'needs root: the bootstrap installs packages and creates a bridge';
      return;
    }
    const sandbox = await kcliSandbox();
    if ('skip' in sandbox) {
      skip = sandbox.skip;
      return;
    }
    box = sandbox;
    process.env.HOME = box.env.HOME;
    process.env.KCLI_CONFIG = box.env.KCLI_CONFIG;
    // A veth pair: an interface of our own, with no addresses, to attach as the bridge's uplink.
    execFileSync('ip', ['link', 'add', names.uplink, 'type', 'veth', 'peer', 'name', names.uplinkPeer]);
    // The DAG's files resolve inside the repository the test engine compiles as "test".
    engine = await startTestEngine({ env: { QUBINODE_DAG_DIRS: `test=${examples}` } });
  });

  after(async () => {
    await engine?.close();
    if (box !== undefined) {
      for (const net of [names.bridgeNet, names.natNet]) {
        virsh('net-destroy', net);
        virsh('net-undefine', net);
      }
      virsh('pool-destroy', names.pool);
      virsh('pool-undefine', names.pool);
      sh('kcli', ['delete', 'plan', '-y', names.smoke]);
      sh('ip', ['link', 'delete', names.bridge]);
    removeFirewallRules(names.bridge);
      sh('ip', ['link', 'delete', names.uplink]);
    rmSync(box.dir, { recursive: true, force: true });
    }
    process.env.HOME = savedEnv.HOME;
    if (savedEnv.KCLI_CONFIG === undefined) delete process.env.KCLI_CONFIG;
    else process.env.KCLI_CONFIG = savedEnv.KCLI_CONFIG;
  });

  it('bootstraps this host with a bridge over a veth uplink, boots a smoke VM, and a second run changes nothing', async (t) => {
    if (skip) return t.skip(skip);
    assert.ok(engine);
    const dag = engine.compile(dagText);
    const routeBefore = sh('ip', ['-j', 'route', 'show', 'default']).out;

    const started = Date.now();
    const first = await engine.run(dag, bridgeParams());
    t.diagnostic(`first run: ${Math.round((Date.now() - started) / 1000)} s (${durations(first)})`);
    const expected = {
      preflight: 'succeeded',
      'rhel-repos': 'skipped',
      'packages-rhel': 'skipped',
      'packages-debian': 'succeeded',
      libvirt: 'succeeded',
      'bridge-uplink': 'skipped',
      bridge: 'succeeded',
      network: 'skipped',
      pool: 'succeeded',
      'pool-selinux': 'skipped',
      'pool-apparmor': task(first, 'preflight').outputs?.host && (task(first, 'preflight').outputs?.host as HostFeatures).apparmor ? 'succeeded' : 'skipped',
      firewall: 'succeeded',
      validate: 'succeeded',
      'smoke-vm': 'succeeded',
      'smoke-cleanup': 'succeeded',
    };
    assert.deepEqual(taskStates(first), expected, JSON.stringify(first.tasks.filter((entry) => entry.error).map((entry) => [entry.id, entry.error?.message])));
    assert.equal(first.state, 'succeeded');

    // What the run did, read back from the kernel and libvirt.
    assert.equal(link(names.bridge)?.linkinfo?.info_kind, 'bridge');
    assert.equal(link(names.uplink)?.master, names.bridge);
    const netXml = virsh('net-dumpxml', names.bridgeNet).out;
    assert.match(netXml, /<forward mode='bridge'\/>/);
    assert.ok(netXml.includes(`<bridge name='${names.bridge}'/>`));
    assert.match(virsh('pool-info', names.pool).out, /State:\s+running/);
    assert.equal(sh('ip', ['-j', 'route', 'show', 'default']).out, routeBefore, 'the default route is untouched');
    const uplinkOfHost = defaultRouteDevice();
    if (uplinkOfHost !== undefined) assert.equal(link(uplinkOfHost)?.master, undefined, `${uplinkOfHost} stays out of any bridge`);

    // Validation reports how guests run; without vmx/svm or /dev/kvm that is software emulation.
    const validate = task(first, 'validate').outputs as { acceleration: string; emulationReason?: string; devKvm: { present: boolean }; cpuVirtualization: string | null };
    assert.equal(validate.acceleration, task(first, 'preflight').outputs?.acceleration);
    if (!validate.devKvm.present || validate.cpuVirtualization === null) {
      assert.equal(validate.acceleration, 'emulation');
      assert.match(task(first, 'validate').summary ?? '', /guests in software emulation: /);
    }
    // Debian without firewalld or an active ufw: nftables rules for the bridge, or, without nft, the play says it
    // applied none instead of failing.
    const firewallLog = readFileSync(task(first, 'firewall').logPath ?? '', 'utf8');
    if (existsSync('/usr/sbin/nft')) {
      const chain = sh('nft', ['list', 'chain', 'inet', 'qubinode', 'forward']).out;
      for (const direction of ['iifname', 'oifname']) assert.ok(chain.includes(`${direction} "${names.bridge}" accept`), chain);
      t.diagnostic('firewall: nftables');
    } else {
      assert.match(firewallLog, /firewall: no firewalld, active ufw or nft on this host; no rules applied/);
      t.diagnostic('firewall: none on this host');
    }
    assert.equal(virsh('dominfo', `${names.smoke}-vm`).ok, false, 'the smoke VM is gone again');

    const again = Date.now();
    const second = await engine.run(dag, bridgeParams());
    t.diagnostic(`second run: ${Math.round((Date.now() - again) / 1000)} s (${durations(second)})`);
    assert.deepEqual(taskStates(second), expected);
    for (const id of ['packages-debian', 'libvirt', 'bridge', 'firewall']) assert.equal(changed(second, id), false, `${id} changed nothing: ${task(second, id).summary}`);
    assert.match(task(second, 'bridge').summary ?? '', /changed=0 /);
    assert.equal(task(second, 'pool').outputs?.created, false);
  });

  it('creates a NAT network when network_mode is nat, without a bridge or firewall step', async (t) => {
    if (skip) return t.skip(skip);
    assert.ok(engine);
    const cidr = `10.231.${randomBytes(1)[0] ?? 7}.0/24`;
    const status = await engine.run(engine.compile(dagText), params({ network_mode: 'nat', network_name: names.natNet, network_cidr: cidr, smoke_test: false }));
    const states = taskStates(status);
    assert.deepEqual([states.network, states.bridge, states.firewall, states['smoke-vm'], states.validate], ['succeeded', 'skipped', 'skipped', 'skipped', 'succeeded']);
    assert.equal(task(status, 'network').outputs?.created, true);
    assert.match(virsh('net-dumpxml', names.natNet).out, /<forward mode='nat'/);
  });

  it("refuses to move the interface that carries this host's default route into the bridge, touching nothing", async (t) => {
    if (skip) return t.skip(skip);
    assert.ok(engine);
    const uplinkOfHost = defaultRouteDevice();
    if (uplinkOfHost === undefined) return t.skip('this host has no default route');
    const refusedBridge = `qbootr${suffix}`;
    const routeBefore = sh('ip', ['-j', 'route', 'show', 'default']).out;
    // The bridge play alone, as the DAG's bridge task runs it: the earlier steps add nothing to this refusal.
    const playOnly = engine.compile(`
id: bridge-play
tasks:
  - id: bridge
    uses: ansible.playbook
    with:
      playbook: playbooks/bridge.yml
      inventory: playbooks/inventory/local.ini
      extraVars:
        bridge_name: \${{ params.bridge_name }}
        bridge_uplink: \${{ params.bridge_uplink }}
        network_name: \${{ params.network_name }}
params:
  bridge_name: { type: string }
  bridge_uplink: { type: string }
  network_name: { type: string }
`);
    const status = await engine.run(playOnly, { bridge_name: refusedBridge, bridge_uplink: uplinkOfHost, network_name: `qbootr${suffix}` });
    const bridge = task(status, 'bridge');
    assert.equal(bridge.state, 'failed');
    assert.equal(bridge.error?.type, 'AnsibleTaskFailed');
    assert.match(bridge.error?.message ?? '', /carries addresses or the default route/);
    assert.equal(link(refusedBridge), undefined, 'no bridge was made');
    assert.equal(link(uplinkOfHost)?.master, undefined);
    assert.equal(sh('ip', ['-j', 'route', 'show', 'default']).out, routeBefore);
    assert.equal(virsh('net-info', `qbootr${suffix}`).ok, false);
  });

  it('refuses hostile bridge, uplink, network and pool names before a run starts', (t) => {
    if (skip) return t.skip(skip);
    assert.ok(engine);
    const dag = engine.compile(dagText);
    const hostile: Record<string, unknown>[] = [
      { bridge_name: '-o evil' },
      { bridge_name: 'a'.repeat(16) },
      { bridge_uplink: 'eth0; reboot' },
      { bridge_uplink: '--help' },
      { network_name: "n'/><forward mode='nat'/>" },
      { network_name: 'a'.repeat(17) },
      { pool_path: '/var/lib/libvirt/images/(.*)' },
      { pool_path: 'relative/path' },
      { pool_path: '/var/lib/libvirt/../../etc' },
      { pool_path: '/' },
      { pool_path: `/${'a'.repeat(5000)}` },
      { smoke_name: '{{ lookup("pipe", "id") }}' },
      { network_mode: 'macvtap' },
    ];
    for (const value of hostile) assert.throws(() => resolveParams(dag.params, value), Error, JSON.stringify(value).slice(0, 80));
  });
});

/** The task states a run would reach on a host with these preflight outputs, every task that runs succeeding. */
function branches(dag: CompiledDag, preflight: Record<string, unknown>, values: Record<string, unknown>): Record<string, string> {
  const resolved = resolveParams(dag.params, values);
  const tasks: Record<string, { state: string; outputs: Record<string, unknown> }> = {};
  for (const entry of dag.tasks) {
    const upstream = entry.needs.map((id) => tasks[id]?.state ?? 'pending');
    const allowed = entry.trigger === 'none_failed' ? !upstream.includes('failed') : upstream.every((state) => state === 'succeeded');
    const scope = { params: resolved, tasks, run: { id: 'r', key: 'k', dag: 'test/hypervisor-bootstrap', repo: 'test', commit: 'c' } };
    const when = entry.when === undefined ? true : typeof entry.when === 'boolean' ? entry.when : evaluateExpression(conditionExpression(entry.when).expr, scope);
    const runs = allowed && Boolean(when) && !(Array.isArray(when) && when.length === 0);
    const outputs = entry.id === 'preflight' ? preflight : entry.id === 'validate' ? { acceleration: preflight.acceleration } : {};
    tasks[entry.id] = { state: runs ? 'succeeded' : 'skipped', outputs };
  }
  return Object.fromEntries(Object.entries(tasks).map(([id, value]) => [id, value.state]));
}

describe('hypervisor-bootstrap branches by the detected OS', () => {
  const fixtures = path.join(PROJECT_ROOT, 'test', 'fixtures', 'os');
  // Compiling needs no engine: the registry the engine uses, without a worker.
  const dagOnly = (): CompiledDag => compileDagFile({ repo: 'test', path: 'dag.yaml', commit: 'test', text: dagText }, { registry: actionRegistryWith(loadConfiguredPlugins(loadConfig(process.env))), resolveDag: () => undefined });
  const rhelHost: HostFeatures = { selinux: 'enforcing', apparmor: false, systemd: true, networkManager: true };
  const debianHost: HostFeatures = { selinux: 'disabled', apparmor: true, systemd: true, networkManager: false };
  const table: [string, 'rhel' | 'fedora' | 'debian'][] = [
    ['debian-12', 'debian'],
    ['debian-13', 'debian'],
    ['ubuntu-24.04', 'debian'],
    ['rhel-9.4', 'rhel'],
    ['rocky-9.4', 'rhel'],
    ['almalinux-9.4', 'rhel'],
    ['fedora-40', 'fedora'],
  ];
  for (const [fixture, kind] of table) {
    it(`takes the ${kind} branch for the real os-release of ${fixture}`, async () => {
      const report = await gatherFacts(loadPlugins(), factContext(path.join(fixtures, fixture), {}));
      assert.equal(report.checks.find((check) => check.id === 'os.supported')?.ok, true, `${fixture} is a supported hypervisor OS`);
      const { cpu: _cpu, ...osFacts } = report.facts.os as Record<string, unknown>;
      const host = kind === 'debian' ? debianHost : rhelHost;
      const states = branches(dagOnly(), { os: osFacts, host, acceleration: 'kvm' }, { network_mode: 'bridge', bridge_uplink: 'eno1' });
      const ran = (id: string) => states[id] === 'succeeded';
      assert.deepEqual(
        { rhelRepos: ran('rhel-repos'), dnf: ran('packages-rhel'), apt: ran('packages-debian'), selinux: ran('pool-selinux'), apparmor: ran('pool-apparmor'), nmUplink: ran('bridge-uplink') },
        {
          rhelRepos: kind === 'rhel',
          dnf: kind !== 'debian',
          apt: kind === 'debian',
          selinux: kind !== 'debian',
          apparmor: kind === 'debian',
          nmUplink: kind !== 'debian',
        },
      );
      for (const id of ['libvirt', 'bridge', 'pool', 'firewall', 'validate', 'smoke-vm', 'smoke-cleanup']) assert.equal(states[id], 'succeeded', id);
      assert.equal(states.network, 'skipped');
    });
  }
});
