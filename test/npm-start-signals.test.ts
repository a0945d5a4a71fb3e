import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../config/config';
import { isListening } from '../infra/temporal-dev-server';
import { qubinodeFromSource } from './support/cli';
import { allGone, isProcessRunning } from './support/processes';
import { freePort } from '../bench/free-port';
import { until } from './support/waiting';

// `npm start` is infra/start.sh, which execs `qubinode up`. Each test runs `up` from the sources in a process
// group of its own, as a terminal runs its foreground job, and presses Ctrl-C the way a terminal under npm
// delivers it: SIGINT to the whole group and, at once, npm's forwarded copy to its child (npm itself is left
// out: its only part is that forward). Dev servers started here listen on free ports with their data in a
// temporary directory; the shared dev server on 7233 is only reused, never stopped.

const scratch = mkdtempSync(path.join(tmpdir(), 'qubinode-signals-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

interface Up {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: () => boolean;
}

function startUp(args: readonly string[], env: NodeJS.ProcessEnv): Up {
  const child = spawn(process.execPath, [path.join(PROJECT_ROOT, 'bin', 'qubinode.js'), 'up', ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, QUBINODE_FROM_SOURCES: '1', QUBINODE_AI_ANALYSIS: 'rules', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stdout = '';
  let stderr = '';
  let done = false;
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    }),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exit, exited: () => done };
}

/** One Ctrl-C under npm: the terminal signals the process group, npm forwards its copy to the child. */
function ctrlC(up: Up): void {
  const pid = up.child.pid as number;
  process.kill(-pid, 'SIGINT');
  process.kill(pid, 'SIGINT');
}

async function untilUp(up: Up): Promise<void> {
  await until(() => up.stdout().includes('Qubinode Navigator is up.') || up.exited(), 150_000, `qubinode up to be up (stderr so far: ${up.stderr().slice(-2000)})`);
  assert.ok(!up.exited(), `qubinode up ended before it was up:\n${up.stderr().slice(-3000)}`);
}

/** Settings for an `up` with a dev server of its own on free ports and its data in a fresh directory. */
async function ownServerEnv(name: string): Promise<{ env: NodeJS.ProcessEnv; port: number; dataDir: string }> {
  const [port, uiPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const dataDir = path.join(scratch, name);
  return {
    port,
    dataDir,
    env: {
      TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
      QUBINODE_TEMPORAL_PORT: String(port),
      QUBINODE_TEMPORAL_UI_PORT: String(uiPort),
      QUBINODE_API_PORT: String(apiPort),
      QUBINODE_DATA_DIR: dataDir,
      QUBINODE_TASK_QUEUE: `signals-${name}`,
    },
  };
}

describe('npm start and Ctrl-C', () => {
  it('stops the workers, the API and the dev server it started when Ctrl-C arrives twice at once, as npm delivers it', { timeout: 240_000 }, async () => {
    const { env, port, dataDir } = await ownServerEnv('owned');
    const up = startUp([], env);
    try {
      await untilUp(up);
      assert.match(up.stdout(), /dev server started here/);
      // The web page's address is in the banner, and it answers there.
      const page = /web page +(http:\/\/\S+\/ui)/.exec(up.stdout())?.[1];
      assert.ok(page, up.stdout());
      assert.equal((await fetch(page)).status, 200);
      const serverPid = Number(readFileSync(path.join(dataDir, 'temporal', 'server.pid'), 'utf8'));
      assert.ok(isProcessRunning(serverPid), 'the dev server runs while up does');
      assert.ok(await isListening('127.0.0.1', port), 'the dev server listens while up does');

      ctrlC(up);
      const { code } = await up.exit;
      assert.equal(code, 0, `up exits cleanly; stderr:\n${up.stderr().slice(-3000)}`);
      assert.match(up.stdout(), /stopped\s*$/);
      assert.match(up.stderr(), /Ctrl-C: stopping/);
      assert.doesNotMatch(up.stderr(), /forced stop/, 'the forwarded copy of the same Ctrl-C is not a second press');
      assert.ok(await allGone([serverPid], 15_000), `the dev server (pid ${serverPid}) is gone after up stopped`);
      assert.equal(await isListening('127.0.0.1', port), false, 'nothing listens on the dev server port any more');
      assert.equal(existsSync(path.join(dataDir, 'temporal', 'server.pid')), false, 'the pid file of the stopped server is removed');
    } finally {
      if (!up.exited()) process.kill(-(up.child.pid as number), 'SIGKILL');
    }
  });

  it('stops in the same order, the dev server included, when its terminal closes (SIGHUP)', { timeout: 240_000 }, async () => {
    const { env, port, dataDir } = await ownServerEnv('hangup');
    const up = startUp(['--no-api'], env);
    try {
      await untilUp(up);
      const serverPid = Number(readFileSync(path.join(dataDir, 'temporal', 'server.pid'), 'utf8'));
      // A closed terminal hangs up its session's foreground group; the dev server, in a group of its own, hears nothing.
      process.kill(-(up.child.pid as number), 'SIGHUP');
      const { code, signal } = await up.exit;
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, `up stops itself instead of dying of the hangup; stderr:\n${up.stderr().slice(-3000)}`);
      assert.ok(await allGone([serverPid], 15_000), `the dev server (pid ${serverPid}) is gone after the hangup`);
      assert.equal(await isListening('127.0.0.1', port), false, 'nothing listens on the dev server port any more');
    } finally {
      if (!up.exited()) process.kill(-(up.child.pid as number), 'SIGKILL');
    }
  });

  it('forces the exit on a second Ctrl-C while a task holds the stop, and still stops the dev server it started', { timeout: 240_000 }, async () => {
    const { env, port, dataDir } = await ownServerEnv('forced');
    const dags = path.join(scratch, 'forced-dags');
    const marker = path.join(scratch, 'forced-task-started');
    mkdirSync(path.join(dags, 'dags'), { recursive: true });
    // A task that outlasts the worker's 10 s grace period keeps the orderly stop busy.
    writeFileSync(path.join(dags, 'dags', 'slow.yaml'), ['id: slow', 'tasks:', '  - id: wait', '    uses: shell', '    with:', `      command: [sh, -c, 'touch "$0"; exec sleep 120', ${JSON.stringify(marker)}]`, ''].join('\n'));
    const withDags = { ...env, QUBINODE_DAG_DIRS: `signals=${dags}` };
    const up = startUp(['--no-api'], withDags);
    try {
      await untilUp(up);
      const serverPid = Number(readFileSync(path.join(dataDir, 'temporal', 'server.pid'), 'utf8'));
      const started = await qubinodeFromSource(['run', 'signals/slow'], withDags);
      assert.equal(started.code, 0, started.stderr);
      await until(() => existsSync(marker), 60_000, 'the slow task to start');

      ctrlC(up);
      await until(() => up.stderr().includes('Ctrl-C: stopping') || up.exited(), 30_000, 'up to say it is stopping');
      // A press a moment later, not the echo of the first: well past the second in which repeats are ignored.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.ok(!up.exited(), 'the orderly stop is still waiting for the task');
      ctrlC(up);
      const { code } = await up.exit;
      assert.equal(code, 130, `a forced stop exits 130; stderr:\n${up.stderr().slice(-3000)}`);
      assert.match(up.stderr(), /forced stop/);
      assert.ok(await allGone([serverPid], 15_000), `the dev server (pid ${serverPid}) is gone after a forced stop`);
      assert.equal(await isListening('127.0.0.1', port), false, 'nothing listens on the dev server port any more');
    } finally {
      if (!up.exited()) process.kill(-(up.child.pid as number), 'SIGKILL');
    }
  });

  it('leaves a Temporal server it reused running', { timeout: 240_000 }, async () => {
    assert.ok(await isListening('127.0.0.1', 7233), 'the shared dev server listens on 127.0.0.1:7233 (npm test starts it)');
    const suffix = randomBytes(4).toString('hex');
    const up = startUp(['--no-api'], {
      TEMPORAL_ADDRESS: '127.0.0.1:7233',
      QUBINODE_DATA_DIR: path.join(scratch, 'reused'),
      QUBINODE_TASK_QUEUE: `signals-reused-${suffix}`,
    });
    try {
      await untilUp(up);
      assert.match(up.stdout(), /\(reused; left running on exit\)/);
      ctrlC(up);
      const { code } = await up.exit;
      assert.equal(code, 0, up.stderr().slice(-3000));
      assert.match(up.stdout(), /stopped\s*$/);
      assert.ok(await isListening('127.0.0.1', 7233), 'the reused server still listens');
    } finally {
      if (!up.exited()) process.kill(-(up.child.pid as number), 'SIGKILL');
    }
  });
});
