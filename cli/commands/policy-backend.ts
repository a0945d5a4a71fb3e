// What `qubinode policy` does, loaded by its actions only (cli/commands/policy.ts declares the commands).
import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { ApiClient, loadApiToken } from '../../client/api-client';
import { findDag } from '../../client/prepare-run';
import {
  approveException,
  approveVersion,
  dagVersionHash,
  DEFAULT_POLICY_REPO,
  policyForRepo,
  readPolicies,
  setPolicy,
  type ExceptionRecord,
  type PolicyForRepo,
  type PolicyState,
  type PolicyStore,
  type StoredPolicy,
  type VersionApproval,
} from '../../client/repo-policy';
import { parsePolicyText, POLICY_FILE_MAX_BYTES, PolicyRepoName, RepoPolicy } from '../../client/policy-input';
import { CliError, type CliContext } from '../context';
import { audited, localUser } from '../local-audit';

/** One repository's policy as `policy show REPO` prints it. */
export type RepoPolicyView = PolicyForRepo & { stored: StoredPolicy | null; exceptions: ExceptionRecord[] };

/** What the policy commands need, from Temporal directly (admins on the control plane) or from the API. */
export interface PolicyBackend {
  all(): Promise<PolicyState>;
  forRepo(repo: string): Promise<RepoPolicyView>;
  set(repo: string, policy: RepoPolicy): Promise<StoredPolicy | null>;
  remove(repo: string): Promise<void>;
  approveException(id: string, forWhom?: string): Promise<ExceptionRecord>;
  approveVersion(dag: string, commit?: string): Promise<VersionApproval>;
}

// The API's answers, checked for what is printed; the rest passes through as the server sent it.
const Stored = z.object({ policy: RepoPolicy, setBy: z.string(), setAt: z.string() }).passthrough();
const Exception = z.object({ id: z.string(), repo: z.string(), file: z.string(), task: z.string(), rule: z.string(), state: z.enum(['pending', 'approved']), commit: z.string(), author: z.object({ name: z.string(), email: z.string() }) }).passthrough();
const Version = z.object({ dag: z.string(), commit: z.string(), hash: z.string(), by: z.string(), at: z.string() }).passthrough();
const StateAnswer = z.object({ repos: z.record(z.string(), Stored), exceptions: z.array(Exception), versions: z.array(Version) });
const RepoAnswer = z.object({ repo: z.string(), source: z.enum(['repo', 'default', 'none']), policy: RepoPolicy.optional(), stored: Stored.nullable(), exceptions: z.array(Exception), approvedExceptions: z.array(z.string()), approvedVersions: z.array(z.object({ dag: z.string(), commit: z.string(), hash: z.string() })) });

function apiPolicyBackend(api: ApiClient): PolicyBackend {
  return {
    all: async () => (await api.call({ method: 'GET', path: ['api', 'policies'] }, StateAnswer)) as unknown as PolicyState,
    forRepo: async (repo) => (await api.call({ method: 'GET', path: ['api', 'policies', repo] }, RepoAnswer)) as unknown as RepoPolicyView,
    set: async (repo, policy) => (await api.call({ method: 'PUT', path: ['api', 'policies', repo], body: { policy } }, Stored)) as StoredPolicy,
    remove: async (repo) => {
      await api.call({ method: 'DELETE', path: ['api', 'policies', repo] }, z.object({ removed: z.string() }));
    },
    approveException: async (id, forWhom) => {
      if (forWhom) throw new CliError('--as is for admins on the control plane; through the API the approver is the token\'s user', 2);
      return (await api.call({ method: 'POST', path: ['api', 'policy-exceptions'], body: { id } }, Exception)) as unknown as ExceptionRecord;
    },
    approveVersion: async (dag, commit) => (await api.call({ method: 'POST', path: ['api', 'policy-versions'], body: { dag, ...(commit ? { commit } : {}) } }, Version)) as VersionApproval,
  };
}

function directPolicyBackend(context: CliContext): PolicyBackend {
  const store = async (): Promise<PolicyStore> => ({ client: (await context.temporal()).client, workflowId: context.config.policy.workflowId, taskQueue: context.config.taskQueue });
  return {
    all: async () => readPolicies(await store()),
    forRepo: async (repo) => {
      const state = await readPolicies(await store());
      return { ...(await policyForRepo(await store(), repo)), stored: state.repos[repo] ?? null, exceptions: state.exceptions.filter((entry) => entry.repo === repo) };
    },
    set: async (repo, policy) => audited(context, { action: 'policy.set', target: `policy/${repo}`, detail: JSON.stringify(policy) }, async () => setPolicy(await store(), repo, policy, localUser())),
    remove: async (repo) => {
      await audited(context, { action: 'policy.remove', target: `policy/${repo}` }, async () => setPolicy(await store(), repo, null, localUser()));
    },
    approveException: async (id, forWhom) =>
      audited(
        context,
        { action: 'policy.approve-exception', target: `exception/${id}`, ...(forWhom && forWhom !== localUser() ? { onBehalfOf: forWhom } : {}) },
        async () => approveException(await store(), { id, by: localUser(), ...(forWhom && forWhom !== localUser() ? { onBehalfOf: forWhom } : {}) }),
        (record) => `${record.repo} ${record.file} task ${record.task} rule ${record.rule} (author ${record.author.email})`,
      ),
    approveVersion: async (ref, commit) => {
      const dag = findDag(await context.catalog(), context.registry, ref, { allowFiles: false });
      if (commit && commit !== dag.origin.commit) throw new CliError(`${dag.catalogId} is live at ${dag.origin.commit}, not ${commit}; sync first or approve the live commit`);
      return audited(context, { action: 'policy.approve-version', target: `${dag.catalogId}@${dag.origin.commit}` }, async () =>
        approveVersion(await store(), { dag: dag.catalogId, commit: dag.origin.commit, hash: dagVersionHash(dag), by: localUser() }),
      );
    },
  };
}

export function checkedRepo(repo: string): string {
  if (repo === DEFAULT_POLICY_REPO) return repo;
  const parsed = PolicyRepoName.safeParse(repo);
  if (!parsed.success) throw new CliError(`repository "${repo.slice(0, 80)}": ${parsed.error.issues[0]?.message ?? 'invalid'} (or * for the default policy)`, 2);
  return parsed.data;
}

/** Reads a policy file, refusing a large one by its size before reading it. */
export function readPolicyFile(file: string): RepoPolicy {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > POLICY_FILE_MAX_BYTES) throw new CliError(`${file}: ${size} bytes; a policy file has at most ${POLICY_FILE_MAX_BYTES}`, 2);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, 2);
  }
  const parsed = parsePolicyText(text);
  if (!parsed.ok) throw new CliError(`${file}: not a valid policy:\n${parsed.problems.map((problem) => `  ${problem}`).join('\n')}`, 2);
  return parsed.policy;
}

export function describePolicy(policy: RepoPolicy | undefined): string[] {
  if (!policy) return ['  no policy: every action, shell and host allowed (set one with `qubinode policy set`)'];
  const list = (items: readonly string[] | undefined, none: string): string => (items === undefined ? none : items.join(', ') || '(none)');
  return [
    `  actions:     ${list(policy.actions, 'any')}`,
    `  shell:       ${policy.shell === true ? 'allowed' : 'not allowed'}`,
    `  host queues: ${list(policy.hosts?.queues, policy.hosts?.labels ? '(by label only)' : 'any')}`,
    `  host labels: ${list(policy.hosts?.labels, policy.hosts?.queues ? '(by queue only)' : 'any')}`,
    `  new versions need approval on: ${list(policy.approveNewVersionsOn, 'no host')}`,
    `  signed commits: ${policy.signedCommits ? policy.signedCommits.map((signer) => signer.name).join(', ') : 'not required'}`,
    `  securityAllow needs approval: ${policy.approveExceptions === false ? 'no' : 'yes, by someone other than the author'}`,
  ];
}

/** Through the API when QUBINODE_API_URL is set, else Temporal directly. */
export function policyBackendFor(context: CliContext): PolicyBackend {
  const remote = context.config.remoteApi;
  return remote ? apiPolicyBackend(new ApiClient(remote, loadApiToken(remote, context.config.api.token))) : directPolicyBackend(context);
}
