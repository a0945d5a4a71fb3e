// test-tier: full (not in npm run test:quick: a lab, a production server, real guests, apt or the model)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../bench/free-port';
import { PROJECT_ROOT } from '../config/config';

// backup.sh and restore.sh against real PostgreSQL clusters made here by setup-postgres.sh (initdb runs as the
// postgres OS user), exactly as docs/production.md tells an operator to move Temporal's data to a new host.
const script = (name: string): string => path.join(PROJECT_ROOT, 'infra', 'production', name);
const psqlBin = '/usr/lib/postgresql/15/bin/psql';
const isRoot = process.getuid?.() === 0;

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(file, [...args], { env: { ...process.env, ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

interface Cluster {
  env: NodeJS.ProcessEnv;
  socketDir: string;
  port: number;
}

async function makeCluster(dir: string): Promise<Cluster> {
  const port = await freePort();
  const env = { QUBINODE_PROD_DIR: dir, QUBINODE_PG_PORT: String(port) };
  const made = await run('bash', [script('setup-postgres.sh')], env);
  assert.equal(made.code, 0, made.stderr);
  return { env, socketDir: path.join(dir, 'postgres', 'run'), port };
}

/** SQL as the superuser over the cluster's socket (peer authentication as the postgres OS user). */
async function sql(cluster: Cluster, db: string, statement: string): Promise<string> {
  const result = await run('runuser', ['-u', 'postgres', '--', psqlBin, '-X', '-tA', '-v', 'ON_ERROR_STOP=1', '-h', cluster.socketDir, '-p', String(cluster.port), '-d', db], {}, statement);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

const skip = !isRoot ? 'needs root (PostgreSQL runs as the postgres OS user)' : false;

describe('Temporal database backup and restore', { skip }, () => {
  let work: string;
  let source: Cluster;
  let fresh: Cluster;
  let backup: string;

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'qubinode-backup-'));
    chmodSync(work, 0o755); // the postgres OS user must reach the clusters below
    source = await makeCluster(path.join(work, 'source'));
    fresh = await makeCluster(path.join(work, 'fresh'));
    await sql(source, 'temporal', "CREATE TABLE executions (id text PRIMARY KEY, state text); INSERT INTO executions VALUES ('dag/hello-1', 'completed');");
    await sql(source, 'temporal_visibility', "CREATE TABLE executions_visibility (id text, dag text); INSERT INTO executions_visibility VALUES ('dag/hello-1', 'examples/hello');");
  });

  after(async () => {
    for (const cluster of [source, fresh]) if (cluster) await run('bash', [script('setup-postgres.sh'), 'stop'], cluster.env);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('writes both databases into one private archive at a path given as data, however odd its characters', async () => {
    // Run as code, the name would create qubinode-backup-canary in the current folder.
    const canary = path.join(process.cwd(), 'qubinode-backup-canary');
    backup = path.join(work, 'backup $(touch qubinode-backup-canary); `touch qubinode-backup-canary` x.tar');
    const result = await run('bash', [script('backup.sh'), '--out', backup], source.env);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), backup);
    assert.equal(statSync(backup).mode & 0o777, 0o600);
    assert.equal(existsSync(canary), false, 'a value in the path ran as a command');
    const listing = await run('tar', ['-tf', backup]);
    assert.deepEqual(listing.stdout.trim().split('\n').sort(), ['manifest', 'temporal.dump', 'temporal_visibility.dump']);
  });

  it('restores a row written before the backup into a fresh cluster, owned by the temporal role', async () => {
    const result = await run('bash', [script('restore.sh'), backup], fresh.env);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await sql(fresh, 'temporal', "SELECT state FROM executions WHERE id = 'dag/hello-1'"), 'completed');
    assert.equal(await sql(fresh, 'temporal_visibility', 'SELECT dag FROM executions_visibility'), 'examples/hello');
    assert.equal(await sql(fresh, 'temporal', "SELECT tableowner FROM pg_tables WHERE tablename = 'executions'"), 'temporal');
  });

  it('refuses to restore over a database that holds tables, and replaces it only with --replace', async () => {
    await sql(fresh, 'temporal', "INSERT INTO executions VALUES ('dag/after-restore', 'running')");
    const refused = await run('bash', [script('restore.sh'), backup], fresh.env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /database temporal already holds 1 tables: .*--replace/);
    assert.equal(await sql(fresh, 'temporal', 'SELECT count(*) FROM executions'), '2');
    const replaced = await run('bash', [script('restore.sh'), '--replace', backup], fresh.env);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.equal(await sql(fresh, 'temporal', 'SELECT string_agg(id, \',\') FROM executions'), 'dag/hello-1');
  });

  it('refuses a file that is not a backup and extracts nothing but its three members from a crafted archive', async () => {
    const junk = path.join(work, 'junk.tar');
    writeFileSync(junk, 'not a tar file');
    const notTar = await run('bash', [script('restore.sh'), junk], fresh.env);
    assert.equal(notTar.code, 1);
    assert.match(notTar.stderr, /not a backup made by backup\.sh/);

    // A manifest that claims the format, a dump that is not one, and a member that would escape the folder.
    const crafted = path.join(work, 'crafted');
    mkdirSync(path.join(crafted, 'inner'), { recursive: true });
    writeFileSync(path.join(crafted, 'inner', 'manifest'), 'format=qubinode-temporal-backup 1\n');
    writeFileSync(path.join(crafted, 'inner', 'temporal.dump'), 'DROP DATABASE temporal;');
    writeFileSync(path.join(crafted, 'inner', 'temporal_visibility.dump'), 'x');
    writeFileSync(path.join(crafted, 'escaped'), 'x');
    const archive = path.join(work, 'crafted.tar');
    const packed = await run('tar', ['-C', path.join(crafted, 'inner'), '-cf', archive, 'manifest', 'temporal.dump', 'temporal_visibility.dump', '../escaped']);
    assert.equal(packed.code, 0, packed.stderr);
    rmSync(path.join(crafted, 'escaped'));
    const refused = await run('bash', [script('restore.sh'), archive], fresh.env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /temporal\.dump is not a readable pg_dump archive/);
    assert.deepEqual(readdirSync(crafted), ['inner'], 'a member outside the three was extracted');
    assert.equal(await sql(fresh, 'temporal', 'SELECT count(*) FROM executions'), '1');
  });

  it('refuses an owner that is not a plain role name and a backup path that already exists', async () => {
    const owner = await run('bash', [script('restore.sh'), '--owner', 'temporal"; DROP DATABASE temporal; --', backup], fresh.env);
    assert.equal(owner.code, 1);
    assert.match(owner.stderr, /--owner must be a plain role name/);
    const existing = await run('bash', [script('backup.sh'), '--out', backup], source.env);
    assert.equal(existing.code, 1);
    assert.match(existing.stderr, /existing file; backups are never overwritten/);
    assert.equal(await sql(fresh, 'temporal', 'SELECT count(*) FROM executions'), '1');
  });
});
