import { z } from 'zod';

/**
 * What a repository's DAGs may do, and where: held by admins outside the repository (in the policy
 * workflow, workflows/repo-policy.ts), checked by the compiler at sync and again by each host's worker.
 * Pure: runs inside workflows. A repository with no policy (and no default policy) behaves as before.
 */

export const POLICY_LIMITS = { patterns: 200, queues: 500, labels: 100, signers: 50, repos: 1000, exceptions: 2000, versions: 2000 } as const;

/** Same spelling as QUBINODE_HOST_LABELS parts, so a label in a policy can match a host's. */
const LABEL_PART = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** A repository name as `qubinode repo add` accepts it (or `*`, the default policy, where a caller allows it). */
export const PolicyRepoName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, { message: 'letters, digits, ".", "_" or "-" (at most 63)' });

/** An action name or a glob over names: `shell`, `diag.*`, `*`. */
export const ActionPattern = z.string().regex(/^[a-zA-Z0-9_.*-]{1,100}$/, { message: 'an action name or glob (letters, digits, ".", "_", "-", "*")' });

export const QueueName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,99}$/, { message: 'a task queue name (letters, digits, ".", "_", "-")' });

/** `key=value`, both parts like QUBINODE_HOST_LABELS. */
export const LabelPair = z.string().max(127).refine((text) => {
  const [key, value, ...rest] = text.split('=');
  return rest.length === 0 && key !== undefined && value !== undefined && LABEL_PART.test(key) && LABEL_PART.test(value);
}, 'a label key=value (lower-case letters, digits, ".", "_", "-")');

/** One allowed SSH signing key: a name for messages and the public key as `ssh-keygen` prints it. */
export const Signer = z.strictObject({
  name: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._@+-]{0,99}$/, { message: 'a signer name (letters, digits, ".", "_", "@", "+", "-")' }),
  key: z
    .string()
    .max(4096)
    .regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}$/, {
      message: 'an SSH public key "TYPE BASE64" (no comment, no options)',
    }),
});
export type Signer = z.infer<typeof Signer>;

export const RepoPolicy = z.strictObject({
  /** Actions the repository's tasks may use (names or globs). Absent: every action. */
  actions: z.array(ActionPattern).max(POLICY_LIMITS.patterns).optional(),
  /**
   * Whether actions that run commands the DAG writes (`shell`, and `host.network-change`, whose apply and
   * revert steps are commands) are allowed at all, even when `actions` matches them. Absent: not allowed.
   */
  shell: z.boolean().optional(),
  /**
   * Where tasks may run: a host whose queue is listed, or that carries at least one listed label.
   * Absent: any host.
   */
  hosts: z
    .strictObject({
      queues: z.array(QueueName).max(POLICY_LIMITS.queues).optional(),
      labels: z.array(LabelPair).max(POLICY_LIMITS.labels).optional(),
    })
    .optional(),
  /** A new DAG version needs an approval before its first run on a host carrying any of these labels. */
  approveNewVersionsOn: z.array(LabelPair).max(POLICY_LIMITS.labels).optional(),
  /** Commits must be SSH-signed by one of these keys, or the sync is refused. */
  signedCommits: z.array(Signer).min(1).max(POLICY_LIMITS.signers).optional(),
  /** Whether a task's `securityAllow` needs approval by someone other than the commit's author. Absent: it does. */
  approveExceptions: z.boolean().optional(),
});
export type RepoPolicy = z.infer<typeof RepoPolicy>;

const Sha = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, 'a full commit SHA');
const Hex = z.string().regex(/^[0-9a-f]{16,64}$/, 'hexadecimal');
export { Hex, Sha };

/** A task's `securityAllow` as a sync found it; `id` hashes the repo, file, task (its whole text), rule and reason. */
export const PendingException = z.strictObject({
  id: Hex,
  repo: PolicyRepoName,
  file: z.string().min(1).max(500),
  task: z.string().min(1).max(200),
  rule: z.string().min(1).max(100),
  reason: z.string().max(500),
  commit: Sha,
  author: z.strictObject({ name: z.string().max(200), email: z.string().max(200) }),
});
export type PendingException = z.infer<typeof PendingException>;

/** What a worker or a sync asks for: the policy in force for a repository, and its approved exceptions. */
export interface PolicyForRepo extends EffectivePolicy {
  approvedExceptions: string[];
  /** DAG versions of this repository approved for hosts named by `approveNewVersionsOn`. */
  approvedVersions: { dag: string; commit: string; hash: string }[];
}

/** The policy that applies to a repository, and where it came from. */
export interface EffectivePolicy {
  repo: string;
  source: 'repo' | 'default' | 'none';
  policy?: RepoPolicy;
}

/** Matches `*` as any run of characters; no regex is built from the pattern. */
export function globMatches(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === name[n]) {
      p += 1;
      n += 1;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p;
      mark = n;
      p += 1;
    } else if (star >= 0) {
      p = star + 1;
      mark += 1;
      n = mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p += 1;
  return p === pattern.length;
}

/** Actions that run commands a DAG writes: as powerful as `shell`, so `shell: false` refuses them too. */
const COMMAND_ACTIONS: readonly string[] = ['shell', 'host.network-change'];

/** Why a policy refuses an action, or undefined when it allows it. */
export function actionRefusal(policy: RepoPolicy, action: string): string | undefined {
  if (COMMAND_ACTIONS.includes(action) && policy.shell !== true) return `the policy does not allow shell${action === 'shell' ? '' : ` (${action} runs the commands a DAG writes)`}`;
  if (policy.actions && !policy.actions.some((pattern) => globMatches(pattern, action))) return `the policy allows only actions ${policy.actions.join(', ') || '(none)'}`;
  return undefined;
}

function labelPairs(labels: Readonly<Record<string, string>>): string[] {
  return Object.entries(labels).map(([key, value]) => `${key}=${value}`);
}

/** Why a policy refuses a host (its queue and labels), or undefined when it allows it. */
export function hostRefusal(policy: RepoPolicy, queue: string, labels: Readonly<Record<string, string>> = {}): string | undefined {
  const hosts = policy.hosts;
  if (!hosts || (hosts.queues === undefined && hosts.labels === undefined)) return undefined;
  if (hosts.queues?.includes(queue)) return undefined;
  const carried = labelPairs(labels);
  if (hosts.labels?.some((label) => carried.includes(label))) return undefined;
  const allowed = [...(hosts.queues ?? []).map((name) => `queue ${name}`), ...(hosts.labels ?? []).map((label) => `label ${label}`)];
  return `the policy allows only hosts with ${allowed.join(' or ') || '(none)'}`;
}

/** Whether a host's labels make a new DAG version need approval before it runs there. */
export function needsVersionApproval(policy: RepoPolicy | undefined, labels: Readonly<Record<string, string>>): boolean {
  const wanted = policy?.approveNewVersionsOn;
  if (!wanted?.length) return false;
  const carried = labelPairs(labels);
  return wanted.some((label) => carried.includes(label));
}
