// test-tier: full (not in npm run test:quick: a lab, a production server, real guests, apt or the model)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../config/config';
import { findTool, toolPath } from '../config/tool-paths';
import { startTestEngine, taskStates, type TestEngine } from './support/engine';
import { taskOf } from './support/waiting';

// A machine whose python3.x names are pyenv shims for versions that are not installed: interpreter
// discovery finds the shim and every module on a local host fails. The shims here are scripts that
// exit 1, first on the worker's PATH (the worker runs in this process); ansible is the real one.
const fixtures = path.join(PROJECT_ROOT, 'test', 'fixtures', 'ansible-local-python');
const playbook = path.join(fixtures, 'interpreters.yml');
const ansiblePlaybook = findTool('ansible-playbook');
const skip = ansiblePlaybook === undefined ? 'ansible-playbook not installed: run bash infra/setup.sh' : false;
const SHIMS = ['python3', 'python3.13', 'python3.12', 'python'];

let engine: TestEngine;
let scratch: string;
let originalPath: string | undefined;
let hostsRun: ReturnType<typeof reportedInterpreters> | undefined;
/** One run of the mixed inventory (the default runner, ansible-navigator when installed) serves several tests. */
const mixedHosts = (): ReturnType<typeof reportedInterpreters> => (hostsRun ??= reportedInterpreters(path.join(fixtures, 'hosts.ini'), 'auto'));

/** The interpreter the ansible program runs on, read from its own first line (a venv's python). */
function ansibleInterpreter(): string {
  const shebang = readFileSync(ansiblePlaybook ?? '', 'utf8').split('\n', 1)[0] ?? '';
  return shebang.replace(/^#!\s*/, '').split(/\s+/)[0] ?? '';
}

/** Runs the playbook through the engine against `inventory`; returns what each host reported. */
async function reportedInterpreters(inventory: string, runner: 'auto' | 'ansible-playbook'): Promise<{ state: string; reports: Record<string, string>; error?: string }> {
  const reportDir = mkdtempSync(path.join(scratch, 'report-'));
  const dag = engine.compile(`
id: local-python
tasks:
  - id: play
    uses: ansible.playbook
    with:
      runner: ${runner}
      playbook: ${JSON.stringify(playbook)}
      inventory: ${JSON.stringify(inventory)}
      extraVars: { report_dir: ${JSON.stringify(reportDir)} }
`);
  const status = await engine.run(dag);
  const reports = Object.fromEntries(readdirSync(reportDir).map((host) => [host, readFileSync(path.join(reportDir, host), 'utf8').trim()]));
  const error = taskOf(status, 'play').error?.message;
  return { state: taskStates(status).play ?? '', reports, ...(error === undefined ? {} : { error }) };
}

before(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), 'qubinode-local-python-'));
  const shims = path.join(scratch, 'shims');
  mkdirSync(shims);
  for (const name of SHIMS) {
    writeFileSync(path.join(shims, name), '#!/bin/sh\necho "pyenv: $(basename "$0"): command not found" >&2\nexit 1\n');
    chmodSync(path.join(shims, name), 0o755);
  }
  originalPath = process.env.PATH;
  process.env.PATH = [shims, originalPath ?? '/usr/bin:/bin'].join(path.delimiter);
  if (skip === false) engine = await startTestEngine();
});
after(async () => {
  await engine?.close();
  process.env.PATH = originalPath;
  rmSync(scratch, { recursive: true, force: true });
});

describe('local plays on a machine whose python3.x are broken shims', { skip }, () => {
  it('breaks ansible on its own: discovery picks the python3.13 shim for a local host (the premise)', async () => {
    const plain = path.join(scratch, 'plain.ini');
    writeFileSync(plain, '[local]\nplain-local ansible_connection=local\n');
    const run = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(ansiblePlaybook ?? '', ['-i', plain, playbook, '-e', `report_dir=${scratch}`], { env: { ...process.env, PATH: toolPath(), ANSIBLE_NOCOLOR: '1' } }, (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, output: `${stdout}\n${stderr}` });
      });
    });
    assert.notEqual(run.code, 0);
    assert.match(run.output, /discovered_interpreter_python": "[^"]*\/shims\/python3\.13"/);
  });

  it('runs a local-connection host with the Python ansible itself runs on', async () => {
    const { state, reports, error } = await mixedHosts();
    assert.equal(state, 'succeeded', error);
    assert.equal(reports['plain-local'], ansibleInterpreter());
    assert.match(reports['plain-local'] ?? '', /\.tools\/venv\/bin\/python/);
  });

  it('keeps an interpreter the inventory names for a host or for its group', async () => {
    const { state, reports, error } = await mixedHosts();
    assert.equal(state, 'succeeded', error);
    assert.equal(reports['pinned-local'], '/usr/bin/python3');
    assert.equal(reports['group-local'], '/usr/bin/python3');
  });

  it('keeps an interpreter the inventory names for all hosts in [all:vars]', async () => {
    const { state, reports, error } = await reportedInterpreters(path.join(fixtures, 'all-vars.ini'), 'ansible-playbook');
    assert.equal(state, 'succeeded', error);
    assert.deepEqual(reports, { 'plain-local': '/usr/bin/python3' });
  });

  it('leaves hosts reached over ssh to ansible\'s own interpreter discovery', async () => {
    const { reports } = await mixedHosts();
    assert.equal(reports['far-away'], 'auto');
  });
});
