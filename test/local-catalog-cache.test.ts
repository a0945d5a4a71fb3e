import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { LocalCatalogCache } from '../dag-repos/catalog/local-catalog-cache';
import { actionRegistryWith } from '../plugins/plugin-actions';
import { dagYaml } from './support/git-fixture';

/** The API reloads its catalog every few seconds; local DAG directories are compiled again only when they changed. */
describe('local DAG directories reloaded on a timer', () => {
  const registry = actionRegistryWith([]);
  const root = mkdtempSync(path.join(tmpdir(), 'qubinode-local-catalog-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const git = (dir: string, ...args: string[]): string => execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args], { encoding: 'utf8' });

  const directory = (name: string): string => {
    const dir = path.join(root, name);
    mkdirSync(path.join(dir, 'dags'), { recursive: true });
    writeFileSync(path.join(dir, 'dags', 'hello.yaml'), dagYaml('hello'));
    return dir;
  };

  it('returns the same compiled catalog while nothing changed, and a new one when a file changes', async () => {
    const dir = directory('unchanged');
    const cache = new LocalCatalogCache([{ repo: 'local', dir }], registry);
    const first = await cache.load();
    assert.equal(await cache.load(), first, 'nothing changed: not compiled again');
    assert.equal(first.get('local/hello').description, 'hello from git');

    writeFileSync(path.join(dir, 'dags', 'hello.yaml'), dagYaml('hello').replace('hello from git', 'edited in place'));
    const edited = await cache.load();
    assert.notEqual(edited, first);
    assert.equal(edited.get('local/hello').description, 'edited in place');

    writeFileSync(path.join(dir, 'dags', 'second.yaml'), dagYaml('second'));
    assert.deepEqual((await cache.load()).list().map((entry) => entry.id), ['local/hello', 'local/second'], 'a new file is picked up');
    rmSync(path.join(dir, 'dags', 'second.yaml'));
    assert.deepEqual((await cache.load()).list().map((entry) => entry.id), ['local/hello'], 'a removed file is gone');
  });

  it('labels entries with the commit Git reports, and compiles again when the commit moves without a file changing', async () => {
    const dir = directory('committed');
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    git(dir, 'commit', '-q', '-m', 'first');
    const cache = new LocalCatalogCache([{ repo: 'local', dir }], registry);
    const first = await cache.load();
    assert.equal(first.get('local/hello').commit, git(dir, 'rev-parse', 'HEAD').trim());
    git(dir, 'commit', '-q', '--allow-empty', '-m', 'second');
    const second = await cache.load();
    assert.notEqual(second, first);
    assert.equal(second.get('local/hello').commit, git(dir, 'rev-parse', 'HEAD').trim());
    writeFileSync(path.join(dir, 'dags', 'hello.yaml'), dagYaml('hello', 'params: {}\n'));
    assert.match((await cache.load()).get('local/hello').commit, /^[0-9a-f]{40}\+dirty$/);
  });

  it('asks Git again only when the files, HEAD, the ref or the index moved, and at least once a minute', async () => {
    const dir = directory('gated');
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    git(dir, 'commit', '-q', '-m', 'first');
    let nowMs = 1_000_000;
    const cache = new LocalCatalogCache([{ repo: 'local', dir }], registry, () => nowMs);
    const clean = (await cache.load()).get('local/hello').commit;
    assert.match(clean, /^[0-9a-f]{40}$/);
    // A file Git tracks but the catalog does not read: only Git can tell, so the label waits for the next minute.
    writeFileSync(path.join(dir, 'README.md'), 'notes\n');
    git(dir, 'add', 'README.md');
    git(dir, 'commit', '-q', '-m', 'notes');
    writeFileSync(path.join(dir, 'README.md'), 'edited notes\n');
    const afterCommit = (await cache.load()).get('local/hello').commit;
    assert.equal(afterCommit, git(dir, 'rev-parse', 'HEAD').trim() + '+dirty', 'the ref moved: Git was asked');
    writeFileSync(path.join(dir, 'README.md'), 'notes\n');
    nowMs += 30_000;
    assert.equal((await cache.load()).get('local/hello').commit, afterCommit, 'nothing Git keeps moved: not asked within the minute');
    nowMs += 31_000;
    assert.equal((await cache.load()).get('local/hello').commit, git(dir, 'rev-parse', 'HEAD').trim(), 'asked again after a minute');
  });

  it('copes with a directory that is missing, appears later, or holds a file that is not a DAG', async () => {
    const dir = path.join(root, 'later');
    const cache = new LocalCatalogCache([{ repo: 'local', dir }], registry);
    assert.deepEqual((await cache.load()).list(), []);
    directory('later');
    writeFileSync(path.join(dir, 'dags', 'broken.yaml'), 'id: broken\ntasks: [{ id: "$(reboot)", uses: shell }]\n'.padEnd(5000, '#'));
    const loaded = await cache.load();
    assert.deepEqual(loaded.list().map((entry) => [entry.id, entry.valid]), [['local/broken', false], ['local/hello', true]]);
  });
});
