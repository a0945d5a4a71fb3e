import type { Command } from 'commander';
import type { RepoView, SyncRecord } from '../../client/repos';
import type { CliContext } from '../context';
import { CliError } from '../context';
import { audited } from '../local-audit';
import { table } from '../output';
import { existsSync } from 'node:fs';
import type * as Repos from '../../client/repos';
import type * as DagScan from '../../client/dag-scan';
import { blockingFindings, formatFinding, type Finding } from '../../client/security-findings';

// Loaded by the action that uses them (see cli/main.ts).
const repos = (): typeof Repos => require('../../client/repos') as typeof Repos;
const scanDagPath: typeof DagScan.scanDagPath = (...args) => (require('../../client/dag-scan') as typeof DagScan).scanDagPath(...args);

function describeSync(record: SyncRecord | undefined): string {
  if (!record) return 'never synced';
  return `${record.state} ${record.commit ? record.commit.slice(0, 12) : ''} at ${record.at}: ${record.message}`;
}

function printRepo(view: RepoView): void {
  const { config } = view;
  console.log(`repository ${config.name}
  url        ${config.url}
  branch     ${config.branch}    path ${config.path}/    forge ${config.forge}${config.poll ? `    poll every ${config.poll}` : ''}
  secrets    webhook ${config.webhookSecretEnv ? `from $${config.webhookSecretEnv}` : 'not set'}; token ${config.tokenEnv ? `from $${config.tokenEnv}` : 'not set'}${config.sshKeyEnv ? `; ssh key from $${config.sshKeyEnv}` : ''}${config.sshKeyEnv || /^(ssh:\/\/|[^/:@]+@[^/:]+:)/i.test(config.url) ? `; host keys ${config.knownHostsEnv ? `from $${config.knownHostsEnv} (strict)` : 'pinned at first contact'}` : ''}
  active     ${view.active ? `${view.active.commit} (since ${view.active.syncedAt}), ${view.active.dags.length} DAG(s)` : 'none yet'}
  last sync  ${describeSync(view.lastSync)}${view.syncing ? '\n  now       syncing' : view.pending ? '\n  now       sync requested' : ''}`);
  for (const file of view.lastSync?.errors ?? []) for (const problem of file.problems) console.log(`    ${problem}`);
  for (const finding of view.lastSync?.findings ?? []) console.log(`    ${formatFinding(finding)}`);
  if (view.active?.dags.length) console.log(`\n${table(['DAG', 'FILE', 'TRIGGERS'], view.active.dags.map((dag) => [dag.catalogId, dag.origin.path, Object.keys(dag.triggers ?? {}).filter((key) => (dag.triggers as Record<string, unknown>)[key] !== undefined).join(',') || '-']))}`);
}

/** Scans DAG files and, for directories, the whole tree (symlinks). */
function scanPath(context: CliContext, target: string): Finding[] {
  if (!existsSync(target)) throw new CliError(`${target}: no such file or directory`, 2);
  return scanDagPath(target, () => context.registry);
}

export function registerRepoCommands(program: Command, context: CliContext): void {
  const repo = program.command('repo').description('Git repositories of DAGs, synced by push webhooks or polling');

  repo
    .command('add')
    .description('Register a repository and sync it now')
    .argument('<name>', 'short name; DAG ids become <name>/<dag id>')
    .argument('<url>', 'https://, ssh://, git@host:path, file:// or a local path')
    .option('--branch <branch>', 'branch to track', 'main')
    .option('--path <dir>', 'folder of DAG files in the repository', 'dags')
    .option('--secret-env <VAR>', 'environment variable holding the webhook secret')
    .option('--token-env <VAR>', 'environment variable holding an access token (https fetch, commit statuses)')
    .option('--ssh-key-env <VAR>', 'environment variable holding an SSH private key, or the path of its file')
    .option('--known-hosts-env <VAR>', 'environment variable holding the SSH server\'s known_hosts lines (strict); without it the first host key seen is pinned')
    .option('--poll <interval>', 'also sync on this interval, e.g. 60s (for repositories without webhooks)')
    .option('--forge <forge>', 'github, gitlab, bitbucket or generic (guessed from the URL)')
    .option('--api-url <url>', 'forge API base for commit statuses, only when it differs from the one derived from the URL\'s host (https; the token is sent only there)')
    .option('--no-wait', 'do not wait for the first sync')
    .action(async (name: string, url: string, options: { branch: string; path: string; secretEnv?: string; tokenEnv?: string; sshKeyEnv?: string; knownHostsEnv?: string; poll?: string; forge?: 'github' | 'gitlab' | 'bitbucket' | 'generic'; apiUrl?: string; wait: boolean }) => {
      const { client } = await context.temporal();
      const config = await audited(context, { action: 'repo.add', target: name, detail: url }, () => repos().addRepo(
        client,
        {
          name,
          url,
          branch: options.branch,
          path: options.path.replace(/\/$/, ''),
          ...(options.secretEnv ? { webhookSecretEnv: options.secretEnv } : {}),
          ...(options.tokenEnv ? { tokenEnv: options.tokenEnv } : {}),
          ...(options.sshKeyEnv ? { sshKeyEnv: options.sshKeyEnv } : {}),
          ...(options.knownHostsEnv ? { knownHostsEnv: options.knownHostsEnv } : {}),
          ...(options.poll ? { poll: options.poll } : {}),
          ...(options.forge ? { forge: options.forge } : {}),
          ...(options.apiUrl ? { apiUrl: options.apiUrl } : {}),
        },
        context.config.taskQueue,
      ));
      console.log(`registered ${config.name} (${config.url}, branch ${config.branch})`);
      if (!options.wait) return;
      const deadline = Date.now() + 120_000;
      for (;;) {
        const view = await repos().getRepo(client, config.name);
        if (view.lastSync && !view.syncing && !view.pending) {
          console.log(describeSync(view.lastSync));
          if (view.lastSync.state === 'rejected') process.exitCode = 1;
          return;
        }
        if (Date.now() > deadline) throw new CliError('no sync result within 120s: is a worker running (`qubinode up`)?');
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    });

  repo
    .command('list')
    .description('Registered repositories with their live commit')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const repos = await context.backend().repos();
      if (options.json) console.log(JSON.stringify(repos.map(({ active, ...view }) => ({ ...view, active: active ? { commit: active.commit, syncedAt: active.syncedAt, dags: active.dags.map((dag) => dag.catalogId) } : undefined })), null, 2));
      else if (repos.length === 0) console.log('no repositories; add one with `qubinode repo add NAME URL`');
      else console.log(table(['REPO', 'BRANCH', 'ACTIVE', 'DAGS', 'LAST SYNC'], repos.map((view) => [view.config.name, view.config.branch, view.active?.commit.slice(0, 12) ?? '-', String(view.active?.dags.length ?? 0), describeSync(view.lastSync).slice(0, 90)])));
    });

  repo
    .command('show')
    .description('A repository: live commit, last sync result and its errors, DAGs')
    .argument('<name>')
    .option('--json', 'print as JSON')
    .action(async (name: string, options: { json?: boolean }) => {
      const view = await context.backend().repo(name);
      if (options.json) console.log(JSON.stringify(view, null, 2));
      else printRepo(view);
    });

  repo
    .command('sync')
    .description('Sync a repository now and print the result')
    .argument('<name>')
    .action(async (name: string) => {
      const record = await context.backend().syncRepo(name);
      console.log(describeSync(record));
      for (const file of record.errors) for (const problem of file.problems) console.log(`  ${problem}`);
      for (const finding of record.findings) console.log(`  ${formatFinding(finding)}`);
      if (record.state === 'rejected') process.exitCode = 1;
    });

  repo
    .command('remove')
    .description('Unregister a repository (its schedules are deleted; past runs stay)')
    .argument('<name>')
    .action(async (name: string) => {
      const { client } = await context.temporal();
      await audited(context, { action: 'repo.remove', target: name }, () => repos().removeRepo(client, name));
      console.log(`removed ${name}`);
    });

  program
    .commands.find((command) => command.name() === 'dag')
    ?.command('scan')
    .description('Security scan of DAG files or a repository folder; exit 1 when a high finding is not allowed')
    .argument('<paths...>')
    .option('--json', 'print findings as JSON')
    .action((paths: string[], options: { json?: boolean }) => {
      const findings = paths.flatMap((target) => scanPath(context, target));
      if (options.json) console.log(JSON.stringify(findings, null, 2));
      else if (findings.length === 0) console.log('no findings');
      else for (const finding of findings) console.log(formatFinding(finding));
      if (blockingFindings(findings).length > 0) process.exitCode = 1;
    });
}
