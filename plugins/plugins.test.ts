import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { cpuFactsFrom } from './os/cpu-level';
import { osFactsFrom } from './os/os-release';
import { factContext, gatherFacts } from './facts';
import { PluginLoadError, loadPlugins } from './loader';
import { detectEnvironment } from './environment/detect';

const fixtures = path.resolve(__dirname, '..', 'test', 'fixtures', 'os');
const osRelease = (name: string): string => readFileSync(path.join(fixtures, name, 'etc', 'os-release'), 'utf8');

describe('OS detection from real os-release files', () => {
  const table: [string, { id: string; version: string; majorVersion: number; family: string; packageManager: string; hypervisorSupported: boolean; requiresX86_64V3: boolean }][] = [
    ['rhel-8.10', { id: 'rhel', version: '8.10', majorVersion: 8, family: 'rhel', packageManager: 'dnf', hypervisorSupported: true, requiresX86_64V3: false }],
    ['rhel-9.4', { id: 'rhel', version: '9.4', majorVersion: 9, family: 'rhel', packageManager: 'dnf', hypervisorSupported: true, requiresX86_64V3: false }],
    ['rhel-10.0', { id: 'rhel', version: '10.0', majorVersion: 10, family: 'rhel', packageManager: 'dnf', hypervisorSupported: true, requiresX86_64V3: true }],
    ['rocky-8.10', { id: 'rocky', version: '8.10', majorVersion: 8, family: 'rhel', packageManager: 'dnf', hypervisorSupported: true, requiresX86_64V3: false }],
    ['rocky-9.4', { id: 'rocky', version: '9.4', majorVersion: 9, family: 'rhel', packageManager: 'dnf', hypervisorSupported: true, requiresX86_64V3: false }],
    ['almalinux-9.4', { id: 'almalinux', version: '9.4', majorVersion: 9, family: 'rhel', packageManager: 'dnf', hypervisorSupported: true, requiresX86_64V3: false }],
    ['centos-stream-9', { id: 'centos', version: '9', majorVersion: 9, family: 'rhel', packageManager: 'dnf', hypervisorSupported: true, requiresX86_64V3: false }],
    ['centos-stream-10', { id: 'centos', version: '10', majorVersion: 10, family: 'rhel', packageManager: 'dnf', hypervisorSupported: true, requiresX86_64V3: true }],
    ['fedora-40', { id: 'fedora', version: '40', majorVersion: 40, family: 'rhel', packageManager: 'dnf', hypervisorSupported: true, requiresX86_64V3: false }],
    ['debian-12', { id: 'debian', version: '12', majorVersion: 12, family: 'debian', packageManager: 'apt', hypervisorSupported: true, requiresX86_64V3: false }],
    ['ubuntu-24.04', { id: 'ubuntu', version: '24.04', majorVersion: 24, family: 'debian', packageManager: 'apt', hypervisorSupported: true, requiresX86_64V3: false }],
    ['debian-13', { id: 'debian', version: '13', majorVersion: 13, family: 'debian', packageManager: 'apt', hypervisorSupported: true, requiresX86_64V3: false }],
  ];
  for (const [fixture, expected] of table) {
    it(`recognises ${fixture}`, () => {
      const { name: _name, ...facts } = osFactsFrom(osRelease(fixture));
      assert.deepEqual(facts, expected);
    });
  }
});

describe('x86-64 level from real cpuinfo flag sets', () => {
  const table: [string, number, 'vmx' | 'svm' | null][] = [
    ['qemu64-tcg', 1, 'svm'],
    ['xeon-e5-2670-sandybridge', 2, 'vmx'],
    ['atom-c3758-goldmont', 2, 'vmx'],
    ['xeon-e5-2680v3-haswell', 3, 'vmx'],
    ['epyc-7502p-zen2', 3, 'svm'],
    ['this-build-host', 4, null],
  ];
  for (const [fixture, level, virtualization] of table) {
    it(`rates ${fixture} as x86-64-v${level}`, () => {
      const cpu = cpuFactsFrom(readFileSync(path.join(fixtures, 'cpuinfo', `${fixture}.txt`), 'utf8'));
      assert.equal(cpu.x86_64Level, level);
      assert.equal(cpu.x86_64V3, level >= 3);
      assert.equal(cpu.virtualization, virtualization);
      if (level < 3) assert.ok(cpu.missingForV3.includes('avx2'), cpu.missingForV3.join(','));
    });
  }
  it('reports unknown when cpuinfo is missing', () => {
    assert.equal(cpuFactsFrom(undefined).x86_64V3, null);
  });
});

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A --root directory: an os-release fixture plus a cpuinfo flag set. */
function imageRoot(distro: string, cpu: string, extra: Record<string, string> = {}): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'qubinode-root-'));
  roots.push(root);
  cpSync(path.join(fixtures, distro), root, { recursive: true });
  mkdirSync(path.join(root, 'proc'), { recursive: true });
  cpSync(path.join(fixtures, 'cpuinfo', `${cpu}.txt`), path.join(root, 'proc', 'cpuinfo'));
  for (const [rel, text] of Object.entries(extra)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  }
  return root;
}

describe('plugins over a --root', () => {
  const plugins = loadPlugins();

  it('loads the built-in os, environment and vault plugins from plugins/', () => {
    assert.deepEqual(plugins.map((plugin) => plugin.name).sort(), ['environment', 'os', 'vault']);
  });

  it('fails the x86_64-v3 preflight for CentOS Stream 10 on a Sandy Bridge CPU, naming what is missing', async () => {
    const root = imageRoot('centos-stream-10', 'xeon-e5-2670-sandybridge', { 'usr/bin/python3.12': '' });
    const report = await gatherFacts(plugins, factContext(root, {}));
    assert.equal(report.facts.os?.pythonVersion, '3.12');
    const check = report.checks.find((entry) => entry.id === 'cpu.x86_64-v3');
    assert.equal(check?.ok, false);
    assert.match(check?.message ?? '', /needs an x86_64-v3 CPU; this one lacks .*avx2/);
    assert.equal(report.checks.find((entry) => entry.id === 'os.supported')?.ok, true);
  });

  it('passes RHEL 10 on a Zen 2 CPU and skips the v3 check on RHEL 9', async () => {
    const rhel10 = await gatherFacts(plugins, factContext(imageRoot('rhel-10.0', 'epyc-7502p-zen2'), {}));
    assert.equal(rhel10.checks.every((check) => check.ok), true, JSON.stringify(rhel10.checks));
    const rhel9 = await gatherFacts(plugins, factContext(imageRoot('rhel-9.4', 'qemu64-tcg'), {}));
    assert.equal(rhel9.checks.some((check) => check.id === 'cpu.x86_64-v3'), false);
  });

  it('detects Hetzner and Equinix from DMI, and honours an explicit setting', () => {
    const hetzner = imageRoot('rocky-9.4', 'epyc-7502p-zen2', { 'sys/class/dmi/id/sys_vendor': 'Hetzner\n', 'sys/class/dmi/id/product_name': 'vServer\n' });
    assert.deepEqual(detectEnvironment(factContext(hetzner, {})), { kind: 'hetzner', source: 'dmi:sys_vendor', vendor: 'Hetzner', product: 'vServer' });
    const equinix = imageRoot('rocky-9.4', 'epyc-7502p-zen2', { 'sys/class/dmi/id/sys_vendor': 'Dell Inc.\n', 'sys/class/dmi/id/chassis_asset_tag': 'Equinix Metal c3.small.x86\n' });
    assert.equal(detectEnvironment(factContext(equinix, {})).kind, 'equinix');
    const cloudInit = imageRoot('rocky-9.4', 'epyc-7502p-zen2', { 'run/cloud-init/instance-data.json': '{"v1": {"platform": "hetzner", "cloud_name": "hetzner"}}' });
    assert.equal(detectEnvironment(factContext(cloudInit, {})).source, 'cloud-init');
    assert.deepEqual(detectEnvironment(factContext(hetzner, { QUBINODE_ENVIRONMENT: 'local' })).kind, 'local');
    assert.throws(() => detectEnvironment(factContext(hetzner, { QUBINODE_ENVIRONMENT: 'aws' })), /not one of local, hetzner, equinix/);
    assert.equal(detectEnvironment(factContext(imageRoot('debian-12', 'qemu64-tcg'), {})).kind, 'local');
  });

  it('loads a qubinode-plugin-* npm package and rejects a malformed one', () => {
    const nodeModules = mkdtempSync(path.join(os.tmpdir(), 'qubinode-nm-'));
    const pkg = path.join(nodeModules, 'qubinode-plugin-rack');
    mkdirSync(pkg);
    writeFileSync(path.join(pkg, 'package.json'), JSON.stringify({ name: 'qubinode-plugin-rack', version: '1.0.0', main: 'index.js' }));
    writeFileSync(path.join(pkg, 'index.js'), "exports.plugin = { name: 'rack', description: 'rack position', facts: () => ({ row: 'B' }) };\n");
    writeFileSync(path.join(nodeModules, 'unrelated.txt'), '');
    const loaded = loadPlugins({ dirs: [], nodeModules: [nodeModules] });
    assert.deepEqual(loaded.map((plugin) => plugin.name), ['rack']);
    writeFileSync(path.join(pkg, 'index.js'), 'exports.plugin = { name: 42 };\n');
    delete require.cache[path.join(pkg, 'index.js')];
    assert.throws(() => loadPlugins({ dirs: [], nodeModules: [nodeModules] }), PluginLoadError);
    rmSync(nodeModules, { recursive: true, force: true });
  });
});
