import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { checkCommitTree } from '../activities/platform/git-sync';
import { GitCache } from '../activities/platform/git/git-cache';
import { resolveRepoFile } from '../activities/process/repo-files';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { RepoConfig } from '../dag-repos/schema/repo-config';
import { scanRepositoryTree } from '../dag-repos/security/scanner';
import { dagYaml, GitFixture } from './support/git-fixture';

// Enough `x/` hops through a link to the repository itself, then as many `..`: by spelling this stays
// at the repository's root, but `..` after a symlink climbs from the link's target, so it reaches `/`.
const HOPS = 16;
const CLIMB_OUT = `${'x/'.repeat(HOPS)}${'../'.repeat(HOPS)}etc/passwd`;

function escapes(root: string): string[] {
  return scanRepositoryTree(root).map((finding) => `${finding.rule} ${finding.file}`).sort();
}

function refusedAs(type: string) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(error)}`);
    assert.equal(error.type, type, error.message);
    return true;
  };
}

describe('paths are judged by real path, never by spelling', () => {
  let scratch: string;
  let repo: string;
  let outside: string;
  const canary = `canary-${Date.now()}`;

  before(() => {
    scratch = mkdtempSync(path.join(tmpdir(), 'qubinode-paths-'));
    repo = path.join(scratch, 'repo');
    outside = path.join(scratch, 'outside');
    mkdirSync(path.join(repo, 'dags'), { recursive: true });
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'stolen.yaml'), dagYaml('stolen', `# ${canary}\n`));
    writeFileSync(path.join(repo, 'dags', 'hello.yaml'), dagYaml('hello'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  const fresh = (name: string): string => {
    const root = path.join(scratch, name);
    mkdirSync(path.join(root, 'dags'), { recursive: true });
    writeFileSync(path.join(root, 'dags', 'a.yaml'), 'id: a\n');
    return root;
  };

  describe('the scanner', () => {
    it('reports a link whose ".." climbs out after passing through a link, though its text stays inside', () => {
      const root = fresh('climb');
      symlinkSync('.', path.join(root, 'x'));
      symlinkSync(CLIMB_OUT, path.join(root, 'dags', 'passwd'));
      assert.equal(path.resolve(root, 'dags', '..', CLIMB_OUT).startsWith(root), true, 'the link text must look inside');
      assert.deepEqual(escapes(root), ['symlink-escape dags/passwd']);
    });

    it('reports every link of a chain that ends outside, not only the last one', () => {
      const root = fresh('chain');
      symlinkSync('b', path.join(root, 'dags', 'a.link'));
      symlinkSync('c', path.join(root, 'dags', 'b'));
      symlinkSync('/etc/passwd', path.join(root, 'dags', 'c'));
      assert.deepEqual(escapes(root), ['symlink-escape dags/a.link', 'symlink-escape dags/b', 'symlink-escape dags/c']);
    });

    it('reports links that cannot be resolved (missing target, loop) without failing', () => {
      const root = fresh('broken');
      symlinkSync('nowhere.yaml', path.join(root, 'dags', 'dangling.yaml'));
      symlinkSync('loop-b', path.join(root, 'loop-a'));
      symlinkSync('loop-a', path.join(root, 'loop-b'));
      assert.deepEqual(escapes(root), ['symlink-escape dags/dangling.yaml', 'symlink-escape loop-a', 'symlink-escape loop-b']);
    });

    it('reports a symlinked folder of DAGs that lives outside the repository', () => {
      const root = fresh('linked-dir');
      symlinkSync(outside, path.join(root, 'dags', 'more'));
      assert.deepEqual(escapes(root), ['symlink-escape dags/more']);
    });

    it('accepts an absolute link into the repository when the checkout is reached through a symlinked path', () => {
      const root = fresh('real-root');
      symlinkSync(path.join(root, 'dags', 'a.yaml'), path.join(root, 'dags', 'absolute.yaml'));
      symlinkSync('a.yaml', path.join(root, 'dags', 'relative.yaml'));
      const alias = path.join(scratch, 'alias-of-real-root');
      symlinkSync(root, alias);
      assert.deepEqual(escapes(alias), []);
    });
  });

  describe('reading DAG files during a sync', () => {
    const config = (name: string, dir = 'dags') => RepoConfig.parse({ name, url: '/srv/git/x.git', path: dir });

    it('never reads DAG files from a DAG folder that is a symlink out of the checkout', () => {
      const root = path.join(scratch, 'linked-dags');
      mkdirSync(root);
      symlinkSync(outside, path.join(root, 'dags'));
      const result = checkCommitTree(root, config('linked'), 'c'.repeat(40), new ActionRegistry());
      assert.deepEqual(result.dags, []);
      assert.match(result.errors[0]?.problems[0] ?? '', /^dags\/: resolves outside the repository/);
      assert.ok(!JSON.stringify(result).includes(canary), 'a file outside the checkout was read');
      assert.ok(result.findings.some((finding) => finding.rule === 'symlink-escape' && finding.file === 'dags'));
    });

    it('never reads DAG files through a symlinked folder inside the DAG folder', () => {
      const root = path.join(scratch, 'nested-link');
      mkdirSync(path.join(root, 'dags'), { recursive: true });
      writeFileSync(path.join(root, 'dags', 'hello.yaml'), dagYaml('hello'));
      symlinkSync(outside, path.join(root, 'dags', 'more'));
      symlinkSync(path.join(outside, 'stolen.yaml'), path.join(root, 'dags', 'stolen.yaml'));
      const result = checkCommitTree(root, config('nested'), 'c'.repeat(40), new ActionRegistry());
      assert.deepEqual(result.dags.map((dag) => dag.id), ['hello']);
      assert.ok(!JSON.stringify(result).includes(canary), 'a file outside the checkout was read');
    });

    it('refuses a DAG folder spelled with "..", as an absolute path or climbing out', () => {
      for (const dir of ['../etc', 'dags/../../etc', '/etc', '..']) {
        assert.equal(RepoConfig.safeParse({ name: 'x', url: '/srv/git/x.git', path: dir }).success, false, dir);
      }
    });
  });

  describe('files a task names (playbooks, plans, inventories)', () => {
    const resolve = (file: string, repoDir?: string) => resolveRepoFile({ dagDirectories: [{ repo: 'local', dir: repo }] }, 'local/dag', file, repoDir);

    before(() => {
      mkdirSync(path.join(repo, 'playbooks'), { recursive: true });
      writeFileSync(path.join(repo, 'playbooks', 'site.yml'), '- hosts: all\n');
      symlinkSync('/etc/passwd', path.join(repo, 'playbooks', 'passwd.yml'));
      symlinkSync('/etc', path.join(repo, 'roles'));
      symlinkSync('.', path.join(repo, 'x'));
      symlinkSync('site.yml', path.join(repo, 'playbooks', 'alias.yml'));
    });

    it('finds a file inside the repository, and a link that stays inside by its real path', () => {
      assert.deepEqual(resolve('playbooks/site.yml'), { ok: true, path: path.join(repo, 'playbooks', 'site.yml') });
      assert.deepEqual(resolve('playbooks/alias.yml'), { ok: true, path: path.join(repo, 'playbooks', 'site.yml') });
    });

    it('refuses a link to /etc/passwd, a file below a symlinked folder and a ".." after a link', () => {
      for (const file of ['playbooks/passwd.yml', 'roles/passwd', CLIMB_OUT]) {
        const found = resolve(file);
        assert.equal(found.ok, false, file);
        assert.match(found.ok ? '' : found.reason, /resolves outside repository "local"/, file);
      }
    });

    it('refuses ".." segments, and absolute paths for a Git-synced checkout', () => {
      assert.deepEqual(resolve('playbooks/../../outside/stolen.yaml'), { ok: false, reason: '"playbooks/../../outside/stolen.yaml" is outside repository "local"' });
      const synced = resolve(path.join(outside, 'stolen.yaml'), repo);
      assert.equal(synced.ok, false);
      assert.match(synced.ok ? '' : synced.reason, /is an absolute path/);
    });

    it('takes an encoded path literally, so it names no file', () => {
      const found = resolve('%2e%2e/outside/stolen.yaml');
      assert.equal(found.ok, false);
      assert.match(found.ok ? '' : found.reason, /does not exist in repository "local"/);
    });
  });

  describe('commits, branches and URLs handed to git', () => {
    let git: GitFixture;
    let cacheRoot: string;
    before(() => {
      git = new GitFixture();
      git.write('dags/hello.yaml', dagYaml('hello')).commitAndPush('first');
      cacheRoot = path.join(scratch, 'cache');
    });
    after(() => git.cleanup());

    it('refuses a commit that is not a full SHA before it touches the file system or git', async () => {
      const cache = new GitCache(cacheRoot);
      for (const commit of ['../../../../../../../../etc', '--output=/tmp/qubinode-pwned', 'HEAD', git.head().slice(0, 12), `${git.head()}\n`, 'A'.repeat(40)]) {
        await assert.rejects(cache.checkout(git.bare, commit, { name: 'x' }), refusedAs('InvalidGitRef'), JSON.stringify(commit));
      }
      assert.equal(existsSync(path.join(cacheRoot, 'mirrors')), false, 'git ran for a refused commit');
      assert.equal(existsSync('/tmp/qubinode-pwned'), false);
      assert.equal(cache.commitDir('a'.repeat(64)), path.join(cacheRoot, 'commits', 'a'.repeat(64)));
    });

    it('checks out a valid SHA and refuses option-like branches and ranges', async () => {
      const cache = new GitCache(cacheRoot);
      const dir = await cache.checkout(git.bare, git.head(), { name: 'x' });
      assert.ok(existsSync(path.join(dir, 'dags', 'hello.yaml')));
      const mirror = cache.mirrorDir(git.bare);
      assert.equal(await cache.branchCommit(mirror, 'main'), git.head());
      await assert.rejects(cache.branchCommit(mirror, '--output=/tmp/qubinode-pwned'), refusedAs('InvalidGitRef'));
      assert.equal(await cache.changedPaths(mirror, '--output=/tmp/qubinode-pwned', git.head()), undefined);
      assert.equal(existsSync('/tmp/qubinode-pwned'), false);
    });

    it('refuses branch names git would read as options or ranges, and URLs whose host reads as an ssh option', () => {
      for (const branch of ['-x', '--upload-pack=sh', 'a..b', 'a b', 'main\n', 'a:b', '.hidden', 'x.lock', 'a'.repeat(300), 'main\u0000x']) {
        assert.equal(RepoConfig.safeParse({ name: 'x', url: '/srv/git/x.git', branch }).success, false, JSON.stringify(branch));
      }
      assert.equal(RepoConfig.safeParse({ name: 'x', url: '/srv/git/x.git', branch: 'release/2026.1' }).success, true);
      for (const url of ['ssh://-oProxyCommand=touch${IFS}x/repo.git', 'ssh://git@-oProxyCommand=x/repo.git', 'https://host/repo.git\nx', 'https://host/repo.git\u0000', 'ext::sh -c touch% /tmp/x']) {
        assert.equal(RepoConfig.safeParse({ name: 'x', url }).success, false, JSON.stringify(url));
      }
    });

    it('refuses a fetch from a URL the repository schema refuses, without repeating the URL', async () => {
      const cache = new GitCache(path.join(scratch, 'url-cache'));
      await assert.rejects(cache.fetch('https://user:hunter2@example.invalid/x.git', { name: 'x' }), (error: unknown) => {
        assert.ok(error instanceof ApplicationFailure);
        assert.equal(error.type, 'InvalidRepoUrl');
        assert.ok(!error.message.includes('hunter2'));
        return true;
      });
    });
  });
});
