import type { Command } from 'commander';
import type * as PolicyBackendModule from './policy-backend';
import type { PolicyBackend } from './policy-backend';
import { CliError, type CliContext } from '../context';
import { table } from '../output';

// The policy schemas and clients load only in the action that uses them (see cli/main.ts).
const checkedRepo: typeof PolicyBackendModule.checkedRepo = (...args) => (require('./policy-backend') as typeof PolicyBackendModule).checkedRepo(...args);
const describePolicy: typeof PolicyBackendModule.describePolicy = (...args) => (require('./policy-backend') as typeof PolicyBackendModule).describePolicy(...args);
const policyBackendFor: typeof PolicyBackendModule.policyBackendFor = (...args) => (require('./policy-backend') as typeof PolicyBackendModule).policyBackendFor(...args);
const readPolicyFile: typeof PolicyBackendModule.readPolicyFile = (...args) => (require('./policy-backend') as typeof PolicyBackendModule).readPolicyFile(...args);

/** `qubinode policy …`: what each DAG repository may do and where (docs/repo-policy.md). */
export function registerPolicyCommands(program: Command, context: CliContext): void {
  const backend = (): PolicyBackend => policyBackendFor(context);
  const policy = program.command('policy').description('Repository policies: allowed actions, shell, hosts, approvals and signed commits (admin-held, outside the repositories)');

  policy
    .command('show')
    .description('Show every policy, or the one in force for a repository')
    .argument('[repo]', 'a repository name, or * for the default policy')
    .option('--json', 'print as JSON')
    .action(async (repo: string | undefined, options: { json?: boolean }) => {
      if (repo !== undefined) {
        const view = await backend().forRepo(checkedRepo(repo));
        if (options.json) return console.log(JSON.stringify(view, null, 2));
        const from = view.source === 'repo' ? `its own, set by ${view.stored?.setBy ?? '?'} at ${view.stored?.setAt ?? '?'}` : view.source === 'default' ? 'the default policy (*)' : 'none';
        console.log([`${view.repo}: policy ${from}`, ...describePolicy(view.policy)].join('\n'));
        const pending = view.exceptions.filter((entry) => entry.state === 'pending');
        if (pending.length) console.log(`\npending securityAllow exceptions:\n${table(['ID', 'FILE', 'TASK', 'RULE', 'AUTHOR'], pending.map((entry) => [entry.id, entry.file, entry.task, entry.rule, entry.author.email]))}`);
        return;
      }
      const state = await backend().all();
      if (options.json) return console.log(JSON.stringify(state, null, 2));
      const rows = Object.entries(state.repos).map(([name, stored]) => [name, stored.setBy, stored.setAt, stored.policy.shell === true ? 'yes' : 'no', stored.policy.actions?.join(',') ?? 'any']);
      console.log(rows.length ? table(['REPO', 'SET BY', 'SET AT', 'SHELL', 'ACTIONS'], rows) : 'no policies: every repository may use every action, shell and host');
      const pending = state.exceptions.filter((entry) => entry.state === 'pending');
      if (pending.length) console.log(`\npending securityAllow exceptions (qubinode policy approve-exception ID):\n${table(['ID', 'REPO', 'FILE', 'TASK', 'RULE', 'AUTHOR'], pending.map((entry) => [entry.id, entry.repo, entry.file, entry.task, entry.rule, entry.author.email]))}`);
    });

  policy
    .command('set')
    .description('Set a repository\'s policy from a YAML or JSON file (admin); * sets the default for repositories without one')
    .argument('<repo>', 'a repository name, or * for the default policy')
    .requiredOption('--file <path>', 'the policy file')
    .action(async (repo: string, options: { file: string }) => {
      const name = checkedRepo(repo);
      const stored = await backend().set(name, readPolicyFile(options.file));
      console.log([`policy of ${name} set by ${stored?.setBy ?? '?'}`, ...describePolicy(stored?.policy)].join('\n'));
    });

  policy
    .command('remove')
    .description('Remove a repository\'s own policy (admin); the default policy, if any, applies again')
    .argument('<repo>', 'a repository name, or * for the default policy')
    .action(async (repo: string) => {
      const name = checkedRepo(repo);
      await backend().remove(name);
      console.log(`policy of ${name} removed`);
    });

  policy
    .command('approve-exception')
    .description('Approve a securityAllow exception a sync found (approver; never the commit\'s author), then sync the repository again')
    .argument('<id>', 'the exception id the sync printed')
    .option('--as <name>', 'record the approval for this person (admins on the control plane)')
    .action(async (id: string, options: { as?: string }) => {
      if (!/^[0-9a-f]{16,64}$/.test(id)) throw new CliError(`exception id "${id.slice(0, 80)}": hexadecimal, as the sync printed it`, 2);
      const approved = await backend().approveException(id, options.as);
      console.log(`approved ${approved.rule} in ${approved.repo} ${approved.file} task ${approved.task}; sync the repository again (qubinode repo sync ${approved.repo})`);
    });

  policy
    .command('approve-version')
    .description('Approve the live version of a DAG for its first run on production hosts (approver)')
    .argument('<dag>', 'catalog id repo/dag')
    .option('--commit <sha>', 'the commit you reviewed; refused unless it is the live one')
    .action(async (dag: string, options: { commit?: string }) => {
      const approval = await backend().approveVersion(dag, options.commit);
      console.log(`approved ${approval.dag} at ${approval.commit} (plan ${approval.hash.slice(0, 12)}) by ${approval.by}`);
    });
}
