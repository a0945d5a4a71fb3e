// test-tier: full (not in npm run test:quick: a lab, a production server, real guests, apt or the model)
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../config/config';
import { findTool } from '../config/tool-paths';
import { DagValidationError } from '../dag-repos/compiler/diagnostics';
import type { DagRunStatus } from '../workflows/run-status';
import { qubinodeFromSource } from './support/cli';
import { startTestEngine, type TestEngine } from './support/engine';
import { kcliSandbox, type KcliSandbox } from './support/libvirt';
import { startVaultStandIn, type VaultStandIn } from './support/vault-stand-in';
import { taskOf, until } from './support/waiting';

// Every secret source (env, file, Vault) in every action that takes secrets (shell env, http.check
// headers, notify webhook headers, ansible extra vars, kcli params), through the real engine and a
// real worker. Vault is the one boundary stand-in (test/support/vault-stand-in.ts): no Vault or
// OpenBao server can be installed on this machine, so a local HTTP server answers Vault's KV v2 and
// AppRole endpoints. Each source holds its own random canary; none of them may appear in a run's
// history, status or task logs.

const canary = (source: string): string => `${source}-cnry-${randomBytes(12).toString('hex')}`;
const CANARIES = { env: canary('env'), file: canary('file'), vault: canary('vault') };
const ENV_NAME = 'QUBINODE_SOURCES_TEST_SECRET';
const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
const SUFFIX = randomBytes(3).toString('hex');

function filesUnder(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? filesUnder(file) : [file];
  });
}

describe('every secret source in every action (real engine, Vault stand-in)', () => {
  let engine: TestEngine;
  let vault: VaultStandIn;
  let receiver: Server;
  let base: string;
  let scratch: string;
  let refs: { env: string; file: string; vault: string };
  const hooks: { headers: IncomingHttpHeaders; body: string }[] = [];
  const saved = { VAULT_ADDR: process.env.VAULT_ADDR, VAULT_TOKEN: process.env.VAULT_TOKEN };

  /** Nothing of any canary (as is, or base64) in the run's history, status and task logs. */
  async function assertNoCanary(status: DagRunStatus): Promise<void> {
    const history = JSON.stringify(await engine.client.workflow.getHandle(status.runId).fetchHistory());
    const logs = filesUnder(engine.logDir).map((file) => [file, readFileSync(file, 'utf8')] as const);
    for (const [source, value] of Object.entries(CANARIES)) {
      for (const form of [value, Buffer.from(value).toString('base64').slice(0, 24)]) {
        assert.ok(!history.includes(form), `the ${source} secret leaked into the history of ${status.runId}`);
        assert.ok(!JSON.stringify(status).includes(form), `the ${source} secret leaked into the run's status`);
        for (const [file, text] of logs) assert.ok(!text.includes(form), `the ${source} secret leaked into ${file}`);
      }
    }
  }

  before(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), 'qubinode-sources-'));
    const secretFile = path.join(scratch, 'secret');
    writeFileSync(secretFile, `${CANARIES.file}\n`, { mode: 0o600 });
    vault = await startVaultStandIn({ secrets: { 'secret/sources/app': { password: CANARIES.vault } } });
    refs = { env: `secret://env/${ENV_NAME}`, file: `secret://file/${secretFile}`, vault: 'secret://vault/secret/sources/app#password' };
    process.env[ENV_NAME] = CANARIES.env;
    process.env.VAULT_ADDR = vault.address;
    process.env.VAULT_TOKEN = vault.token;
    // http.check target and webhook receiver: /check is healthy only with each source's value in its header.
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        if (request.url === '/hook') {
          hooks.push({ headers: request.headers, body });
          response.writeHead(204).end();
          return;
        }
        const ok = request.headers['x-from-env'] === CANARIES.env && request.headers['x-from-file'] === CANARIES.file && request.headers['x-from-vault'] === CANARIES.vault;
        // The refusal echoes what arrived, as a careless server would: redaction must catch it.
        response.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(JSON.stringify({ ok, got: request.headers }));
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    writeFileSync(
      path.join(scratch, 'check-secrets.yml'),
      [
        '- name: Check the secrets received as extra vars',
        '  hosts: local',
        '  gather_facts: false',
        '  tasks:',
        '    - name: Each value is the one its source holds',
        '      ansible.builtin.assert:',
        '        that:',
        `          - from_env | hash('sha256') == '${sha(CANARIES.env)}'`,
        `          - from_file | hash('sha256') == '${sha(CANARIES.file)}'`,
        `          - from_vault | hash('sha256') == '${sha(CANARIES.vault)}'`,
        '    - name: Print them, as a careless playbook would',
        '      ansible.builtin.debug:',
        '        msg: "env={{ from_env }} file={{ from_file }} vault={{ from_vault }}"',
        '',
      ].join('\n'),
    );
    engine = await startTestEngine();
  });
  after(async () => {
    await engine?.close();
    await vault?.close();
    receiver?.close();
    delete process.env[ENV_NAME];
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    rmSync(scratch, { recursive: true, force: true });
  });

  it('hands shell env, http.check headers, notify headers and ansible extra vars the value of each source, and shows it nowhere', { skip: findTool('ansible-playbook') === undefined ? 'ansible-playbook not installed: run bash infra/setup.sh' : false }, async () => {
    const checkValues = (['env', 'file', 'vault'] as const).map((source) => `test "$(printf %s "$FROM_${source.toUpperCase()}" | sha256sum | cut -c1-64)" = "${sha(CANARIES[source])}"`).join(' && ');
    const dag = engine.compile(`
id: secret-sources
tasks:
  - id: shell
    uses: shell
    with:
      env: { FROM_ENV: ${refs.env}, FROM_FILE: ${refs.file}, FROM_VAULT: "${refs.vault}" }
      script: |
        ${checkValues}
        echo "env=$FROM_ENV file=$FROM_FILE vault=$FROM_VAULT"
        echo "echoed=$FROM_VAULT" >> "$QUBINODE_OUTPUTS"
  - id: http
    uses: http.check
    with:
      url: ${base}/check
      headers: { x-from-env: ${refs.env}, x-from-file: ${refs.file}, x-from-vault: "${refs.vault}" }
      expectJson: { ok: true }
      timeout: 10s
  - id: ansible
    uses: ansible.playbook
    with:
      playbook: ${path.join(scratch, 'check-secrets.yml')}
      inventory: ${path.join(PROJECT_ROOT, 'test', 'fixtures', 'ansible', 'inventory.ini')}
      runner: ansible-playbook
      extraVars: { from_env: ${refs.env}, from_file: ${refs.file}, from_vault: "${refs.vault}" }
notify:
  - type: webhook
    url: ${base}/hook
    headers: { x-from-env: ${refs.env}, x-from-file: ${refs.file}, authorization: "${refs.vault}" }
    on: [success]
`);
    const status = await engine.run(dag);
    assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks.map((task) => [task.id, task.error])));
    assert.match(String(taskOf(status, 'shell').outputs?.stdout), /^env=\*\*\* file=\*\*\* vault=\*\*\*$/m, 'shell received each value and printed it redacted');
    assert.equal(taskOf(status, 'shell').outputs?.echoed, '***');
    assert.equal(taskOf(status, 'http').outputs?.status, 200, 'the server found each value in its header');
    assert.match(readFileSync(String(taskOf(status, 'ansible').logPath), 'utf8'), /env=\*\*\* file=\*\*\* vault=\*\*\*/, 'the playbook asserted each value, then printed it redacted');
    await until(() => hooks.length > 0, 30_000, 'the success notification');
    const hook = hooks[0];
    assert.equal(hook?.headers['x-from-env'], CANARIES.env, 'the webhook got the env secret in its header');
    assert.equal(hook?.headers['x-from-file'], CANARIES.file);
    assert.equal(hook?.headers.authorization, CANARIES.vault);
    assert.ok(!String(hook?.body).includes(CANARIES.vault), 'the notification body does not carry the header secrets');
    await assertNoCanary(status);
  });

  it('refuses an unknown secret source at compile time, naming file, line and field', async () => {
    const text = `id: unknown-source
tasks:
  - id: use
    uses: shell
    with:
      env: { TOKEN: secret://aws/prod/db }
      command: ['true']
`;
    assert.throws(
      () => engine.compile(text),
      (error: unknown) => error instanceof DagValidationError && /^dag\.yaml:6:21 tasks\.use\.with\.env\.TOKEN: not a valid secret reference: unknown secret source "aws"/.test(error.message),
    );
    const file = path.join(scratch, 'unknown-source.yaml');
    writeFileSync(file, text);
    const result = await qubinodeFromSource(['dag', 'validate', file]);
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.ok(result.stdout.includes(`${file}:6:21 tasks.use.with.env.TOKEN: not a valid secret reference: unknown secret source "aws"`), result.stdout);
  });

  it('fails a task whose plan names an unknown source as SecretReferenceInvalid, and the tool never sees the text', async () => {
    const dag = engine.compile(`
id: forged-plan
tasks:
  - id: use
    uses: shell
    retry: 3
    with:
      env: { TOKEN: ${refs.env} }
      script: 'echo "got $TOKEN"'
`);
    // A plan compiled elsewhere (or edited in transit) that names a source this worker does not know.
    const forged = structuredClone(dag);
    const task = forged.tasks[0];
    assert.ok(task !== undefined);
    task.with = { ...task.with, env: { TOKEN: 'secret://aws/prod/db' } };
    task.secretRefs = [{ path: ['env', 'TOKEN'], ref: 'secret://aws/prod/db' }];
    const status = await engine.run(forged);
    const failed = taskOf(status, 'use');
    assert.equal(failed.error?.type, 'SecretReferenceInvalid');
    assert.match(failed.error?.message ?? '', /"secret:\/\/aws\/prod\/db": not a valid secret reference: unknown secret source "aws"/);
    assert.equal(failed.attempt, 1, 'not retried');
    assert.equal(failed.outputs, undefined, 'the command never ran');
  });

  it('retries a task while Vault is sealed, then resolves', async () => {
    const dag = engine.compile(`
id: vault-sealed
tasks:
  - id: use
    uses: shell
    retry: { attempts: 3, delay: 200ms }
    with:
      env: { FROM_VAULT: "${refs.vault}" }
      script: 'test "$(printf %s "$FROM_VAULT" | sha256sum | cut -c1-64)" = "${sha(CANARIES.vault)}"'
`);
    vault.sealFor(1);
    const status = await engine.run(dag);
    assert.equal(status.state, 'succeeded', JSON.stringify(taskOf(status, 'use').error));
    assert.equal(taskOf(status, 'use').attempt, 2, 'the first attempt met a sealed Vault');
  });

  it('fails clearly, after its retries, when Vault cannot be reached', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const deadPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    process.env.VAULT_ADDR = `http://127.0.0.1:${deadPort}`;
    try {
      const dag = engine.compile(`
id: vault-down
tasks:
  - id: use
    uses: shell
    retry: { attempts: 2, delay: 200ms }
    with:
      env: { FROM_VAULT: "${refs.vault}" }
      command: ['true']
`);
      const status = await engine.run(dag);
      const failed = taskOf(status, 'use');
      assert.equal(failed.error?.type, 'SecretStoreUnavailable');
      assert.equal(failed.attempt, 2, 'retried as a transient failure');
      assert.match(failed.error?.message ?? '', new RegExp(`secret://vault/secret/sources/app#password: cannot reach Vault at http://127\\.0\\.0\\.1:${deadPort}`));
    } finally {
      process.env.VAULT_ADDR = vault.address;
    }
  });

  it('fails without retrying, naming VAULT_ADDR, when the worker has no Vault settings', async () => {
    delete process.env.VAULT_ADDR;
    try {
      const dag = engine.compile(`
id: vault-unset
tasks:
  - id: use
    uses: shell
    retry: 3
    with:
      env: { FROM_VAULT: "${refs.vault}" }
      command: ['true']
`);
      const status = await engine.run(dag);
      const failed = taskOf(status, 'use');
      assert.equal(failed.error?.type, 'SecretStoreNotConfigured');
      assert.equal(failed.attempt, 1);
      assert.match(failed.error?.message ?? '', /Vault is not configured on this worker \(VAULT_ADDR is not set\)/);
    } finally {
      process.env.VAULT_ADDR = vault.address;
    }
  });

  describe('kcli params (real libvirtd)', () => {
    let box: KcliSandbox | undefined;
    let skip: string | undefined;
    const savedKcli = { HOME: process.env.HOME, KCLI_CONFIG: process.env.KCLI_CONFIG };
    const vm = `qsrc-${SUFFIX}`;
    const pool = `qsrcpool-${SUFFIX}`;

    before(async () => {
      const sandbox = await kcliSandbox();
      if ('skip' in sandbox) skip = sandbox.skip;
      else box = sandbox;
    });
    after(() => {
      process.env.HOME = savedKcli.HOME;
      if (savedKcli.KCLI_CONFIG === undefined) delete process.env.KCLI_CONFIG;
      else process.env.KCLI_CONFIG = savedKcli.KCLI_CONFIG;
      if (box === undefined) return;
      for (const args of [['destroy', vm], ['undefine', vm, '--remove-all-storage'], ['pool-destroy', pool], ['pool-undefine', pool]]) {
        try {
          execFileSync('virsh', ['-c', 'qemu:///system', ...args], { stdio: 'ignore' });
        } catch {
          // Already gone, or never made.
        }
      }
      rmSync(box.dir, { recursive: true, force: true });
    });

    it('hands kcli.vm.create params the value of each source: kcli stores them in the VM, and prints them back redacted', { timeout: 300_000 }, async (t) => {
      if (box === undefined) return t.skip(skip ?? 'no libvirtd');
      process.env.HOME = box.env.HOME;
      process.env.KCLI_CONFIG = box.env.KCLI_CONFIG;
      const dag = engine.compile(`
id: secret-sources-kcli
tasks:
  - id: pool
    uses: kcli.pool.create
    with: { name: ${pool}, path: ${path.join(box.dir, 'pool')} }
  - id: vm
    uses: kcli.vm.create
    needs: pool
    with:
      name: ${vm}
      memory: 128
      pool: ${pool}
      disks: []
      nets: []
      start: false
      params: { virttype: qemu, vmuser: ${refs.env}, redfish_iso: ${refs.file}, owner: "${refs.vault}" }
`);
      const status = await engine.run(dag);
      assert.equal(status.state, 'succeeded', JSON.stringify(status.tasks.map((task) => [task.id, task.error])));
      // kcli keeps these params in the domain's metadata: the real values reached it.
      const xml = execFileSync('virsh', ['-c', 'qemu:///system', 'dumpxml', vm], { encoding: 'utf8' });
      const stored = { env: 'user', file: 'redfish_iso', vault: 'owner' } as const;
      for (const source of ['env', 'file', 'vault'] as const) assert.ok(xml.includes(`<kvirt:${stored[source]}>${CANARIES[source]}</kvirt:${stored[source]}>`), `kcli received the ${source} secret`);
      // kcli info prints the owner back: the task log shows it redacted.
      assert.match(readFileSync(String(taskOf(status, 'vm').logPath), 'utf8'), /"owner": "\*\*\*"/);
      await assertNoCanary(status);
    });
  });
});
