// test-tier: full (not in npm run test:quick: a lab, a production server, real guests, apt or the model)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../config/config';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { LocalCatalog } from '../dag-repos/catalog/local-catalog';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';
import { taskOf, until, untilTaskState } from './support/waiting';

// A real update with the real apt on this machine, contained: a package of the test's own
// (qubinode-canary 1.0 installed with dpkg, 1.1 in a file-based apt repository of the test) and apt
// settings that point apt-get at the test's own sources list, lists and cache, passed to the DAG as
// params. The machine's own sources, lists and cache are never read or written; only the canary
// package enters the package database, and `after` purges it.
const EXAMPLES = path.join(PROJECT_ROOT, 'dag-repos', 'examples');
const PACKAGE = 'qubinode-canary';
const tools = ['apt-get', 'dpkg', 'dpkg-deb', 'dpkg-scanpackages', 'dpkg-query'];
const missing = tools.filter((tool) => !['/usr/bin', '/bin', '/usr/sbin', '/sbin'].some((dir) => existsSync(path.join(dir, tool))));
const skip = process.getuid?.() !== 0 ? 'needs root (dpkg installs the canary package)' : missing.length > 0 ? `needs ${missing.join(', ')} (Debian/Ubuntu with dpkg-dev)` : false;

let root: string;
let aptOptions: Record<string, string>;
let engine: TestEngine;
let dag: CompiledDag;

const installedVersion = (): string => {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', PACKAGE], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return 'not installed';
  }
};

/** The machine's own apt lists and cache: names and modification times, to show the test left them alone. */
function machineAptState(): string[] {
  return ['/var/lib/apt/lists', '/var/cache/apt'].flatMap((dir) => (existsSync(dir) ? readdirSync(dir).map((name) => `${dir}/${name} ${statSync(path.join(dir, name)).mtimeMs}`) : []));
}

/** What dpkg did to the canary package since `from` (dpkg's own log): e.g. "upgrade 1.0 1.1". */
function dpkgActions(from: number): string[] {
  const lines = existsSync('/var/log/dpkg.log') ? readFileSync('/var/log/dpkg.log', 'utf8').split('\n').slice(from) : [];
  return lines.flatMap((line) => {
    const match = new RegExp(`^\\S+ \\S+ (install|upgrade) ${PACKAGE}:all (\\S+) (\\S+)$`).exec(line);
    return match ? [`${match[1]} ${match[2]} ${match[3]}`] : [];
  });
}
const dpkgLogLength = (): number => (existsSync('/var/log/dpkg.log') ? readFileSync('/var/log/dpkg.log', 'utf8').split('\n').length - 1 : 0);

/** dpkg refuses at once while another package manager holds its lock (other tests install packages too): try again for a while. */
async function dpkg(args: string[]): Promise<void> {
  await until(
    () => {
      try {
        execFileSync('dpkg', args, { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    },
    300_000,
    `dpkg ${args.join(' ')}`,
  );
}

function buildDeb(version: string): string {
  const tree = path.join(root, `build-${version}`);
  mkdirSync(path.join(tree, 'DEBIAN'), { recursive: true });
  mkdirSync(path.join(tree, 'usr', 'share', 'doc', PACKAGE), { recursive: true });
  writeFileSync(path.join(tree, 'DEBIAN', 'control'), `Package: ${PACKAGE}\nVersion: ${version}\nArchitecture: all\nMaintainer: Qubinode tests <tests@localhost>\nDescription: canary package for the update tests\n`);
  writeFileSync(path.join(tree, 'usr', 'share', 'doc', PACKAGE, 'version'), `${version}\n`);
  const deb = path.join(root, `${PACKAGE}_${version}_all.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-b', tree, deb], { stdio: 'ignore' });
  return deb;
}

before(async () => {
  if (skip !== false) return;
  root = mkdtempSync(path.join(tmpdir(), 'qubinode-apt-'));
  const repo = path.join(root, 'repo');
  mkdirSync(repo);
  const old = buildDeb('1.0');
  // Both versions on offer: the update installs the newest, its rollback the one it replaced.
  execFileSync('cp', [buildDeb('1.1'), old, repo]);
  execFileSync('sh', ['-c', 'cd "$1" && dpkg-scanpackages -m . /dev/null > Packages', 'sh', repo], { stdio: ['ignore', 'ignore', 'ignore'] });
  writeFileSync(path.join(root, 'sources.list'), `deb [trusted=yes] file:${repo} ./\n`);
  for (const dir of ['parts', 'state/lists/partial', 'cache/archives/partial']) mkdirSync(path.join(root, dir), { recursive: true });
  // apt reads file: repositories as its unprivileged _apt user where it can.
  execFileSync('chmod', ['-R', 'a+rX', root]);
  chmodSync(root, 0o755);
  aptOptions = {
    'Dir::Etc::SourceList': path.join(root, 'sources.list'),
    'Dir::Etc::SourceParts': path.join(root, 'parts'),
    'Dir::State': path.join(root, 'state'),
    'Dir::Cache': path.join(root, 'cache'),
  };
  await dpkg(['-i', old]);
  engine = await startTestEngine();
  const entry = LocalCatalog.load([{ repo: 'examples', dir: EXAMPLES }], new ActionRegistry()).get('examples/update-automation');
  assert.ok(entry.dag, JSON.stringify(entry.diagnostics));
  dag = entry.dag;
});
after(async () => {
  if (skip !== false) return;
  await engine?.close();
  await dpkg(['--purge', PACKAGE]);
  rmSync(root, { recursive: true, force: true });
});

describe('an update of a real package with the real apt', { skip }, () => {
  it('detects qubinode-canary 1.0 → 1.1, updates only it after approval, and finds 1.1 installed', async () => {
    assert.equal(installedVersion(), '1.0');
    const aptStateBefore = machineAptState();
    const logFrom = dpkgLogLength();
    const host = `${engine.taskQueue}-apt`;
    await engine.addWorker(host, false);
    const runId = await engine.start(dag, { hypervisors: [host], dry_run: false, refresh: true, packages: [PACKAGE], apt_options: aptOptions });
    const waiting = await untilTaskState(engine.client, runId, 'approve', 'waiting', 60_000);
    const detected = (taskOf(waiting, 'detect').outputs?.items as { packages: { name: string; from: string; version: string; security: boolean }[]; total: number }[])[0];
    assert.deepEqual(detected?.packages.map(({ name, from, version, security }) => ({ name, from, version, security })), [{ name: PACKAGE, from: '1.0', version: '1.1', security: false }]);
    assert.equal(installedVersion(), '1.0', 'nothing changes before the approval');

    await engine.client.workflow.getHandle(runId).executeUpdate('approve', { args: [{ taskId: 'approve', approve: true, by: 'ops' }] });
    const status = await engine.wait(runId);
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks.map((task) => [task.id, task.state, task.error?.message])));
    assert.deepEqual(taskStates(status), { detect: 'succeeded', report: 'succeeded', approve: 'succeeded', rollout: 'succeeded', verify: 'succeeded' });
    assert.deepEqual(taskOf(status, 'rollout').outputs?.updated, [host]);
    assert.equal(installedVersion(), '1.1');
    assert.deepEqual(dpkgActions(logFrom), ['upgrade 1.0 1.1'], 'one package changed, once');
    assert.deepEqual(machineAptState(), aptStateBefore, "the machine's apt lists and cache are untouched");
  });

  it('puts qubinode-canary back at 1.0 when the host fails its health check after the update', async () => {
    await dpkg(['-i', path.join(root, `${PACKAGE}_1.0_all.deb`)]);
    assert.equal(installedVersion(), '1.0');
    const logFrom = dpkgLogLength();
    const host = `${engine.taskQueue}-apt-rb`;
    await engine.addWorker(host, false);
    const runId = await engine.start(dag, { hypervisors: [host], dry_run: false, packages: [PACKAGE], apt_options: aptOptions, fail_on: host });
    await untilTaskState(engine.client, runId, 'approve', 'waiting', 60_000);
    await engine.client.workflow.getHandle(runId).executeUpdate('approve', { args: [{ taskId: 'approve', approve: true, by: 'ops' }] });
    const status = await engine.wait(runId);
    assert.equal(status.state, 'failed');
    assert.match(taskOf(status, 'rollout').error?.message ?? '', new RegExp(`rolled back ${host}`));
    assert.equal(installedVersion(), '1.0');
    assert.deepEqual(dpkgActions(logFrom), ['upgrade 1.0 1.1', 'upgrade 1.1 1.0'], 'updated, then put back');
  });
});
