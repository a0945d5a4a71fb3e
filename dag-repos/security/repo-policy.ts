import { z } from 'zod';
import type { CompiledDag } from '../compiler/compiled-dag';
import type { DagDiagnostic } from '../compiler/diagnostics';
import { parseDagText } from '../compiler/parse-limits';
import { displayPath, locate, parseYamlSource, type DocPath, type YamlSource } from '../compiler/source-map';
import type { DagSpec } from '../schema/dag-spec';
import { zodProblems } from '../../config/zod-problems';

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

/** Whether a template (`${{ }}`) decides the value at run time: the compiler cannot judge it, the worker does. */
function isTemplated(value: string): boolean {
  return value.includes('${{');
}

/**
 * An input that makes an otherwise narrow action as powerful as `shell`, so `shell: false` refuses it:
 * host.reboot's verify command runs on the host as a shell step would; apt settings for updates.* choose
 * the sources and lists a package comes from, and so what runs as root.
 */
function commandLikeInput(action: string, input: Record<string, unknown>): { at: string[]; what: string } | undefined {
  if (action === 'host.reboot' && (input.verify as { command?: unknown } | undefined)?.command !== undefined) return { at: ['verify', 'command'], what: "host.reboot's verify command" };
  const aptOptions = input.aptOptions;
  const given = typeof aptOptions === 'string' || (aptOptions !== null && typeof aptOptions === 'object' && Object.keys(aptOptions).length > 0);
  if (action.startsWith('updates.') && given) return { at: ['aptOptions'], what: `${action}'s apt settings (which sources and lists packages come from)` };
  return undefined;
}

/**
 * What the policy forbids in one compiled DAG file, each with its file, line and field: a task (or its
 * `compensate`) whose action is not allowed, `shell` when not allowed, a literal `runsOn` queue the
 * policy does not list. A templated `runsOn`, and hosts allowed by labels, are judged where the task
 * runs (its worker knows its labels).
 */
export function checkDagPolicy(file: { path: string; text: string }, spec: DagSpec, dag: CompiledDag, policy: RepoPolicy, repo: string): DagDiagnostic[] {
  const diagnostics: DagDiagnostic[] = [];
  let yaml: YamlSource | undefined;
  const taskIdAt = (index: number): string | undefined => spec.tasks[index]?.id;
  const add = (at: DocPath, message: string): void => {
    yaml ??= parseYamlSource(file.text);
    const { line, column } = locate(yaml, at);
    diagnostics.push({ code: 'policy', file: file.path, line, column, path: displayPath(at, taskIdAt), message });
  };
  const byId = new Map(dag.tasks.map((task) => [task.id, task]));
  spec.tasks.forEach((taskSpec, index) => {
    const task = byId.get(taskSpec.id);
    if (!task) return;
    const refusal = actionRefusal(policy, task.action);
    if (refusal) add(['tasks', index, 'uses'], `action "${task.action}" is not allowed for repository ${repo}: ${refusal}`);
    const commandLike = commandLikeInput(task.action, task.with);
    const commandRefusal = commandLike ? actionRefusal(policy, 'shell') : undefined;
    if (!refusal && commandLike && commandRefusal) add(['tasks', index, 'with', ...commandLike.at], `${commandLike.what} is not allowed for repository ${repo}: ${commandRefusal}`);
    if (task.compensate) {
      const compensation = actionRefusal(policy, task.compensate.action);
      if (compensation) add(['tasks', index, 'compensate'], `action "${task.compensate.action}" is not allowed for repository ${repo}: ${compensation}`);
    }
    const queue = task.runsOn;
    const hosts = policy.hosts;
    // A queue the policy does not list may still be allowed by its host's labels, which only the host knows.
    if (queue !== undefined && !isTemplated(queue) && hosts?.queues !== undefined && !hosts.labels?.length && !hosts.queues.includes(queue)) {
      add(['tasks', index, 'runsOn'], `runsOn "${queue}" is not allowed for repository ${repo}: the policy allows only queues ${hosts.queues.join(', ') || '(none)'}`);
    }
  });
  return diagnostics;
}

/** Policy files are small: a few hundred names at most. */
export const POLICY_FILE_MAX_BYTES = 64 * 1024;

/**
 * A small YAML or JSON file (a policy, a host's cap) parsed under the DAG files' limits, so a deep or
 * alias-bombed file is refused before it is walked.
 */
export function parseLimitedYaml(text: string): { ok: true; raw: unknown } | { ok: false; problems: string[] } {
  if (text.length > POLICY_FILE_MAX_BYTES) return { ok: false, problems: [`file is ${text.length} characters; at most ${POLICY_FILE_MAX_BYTES}`] };
  const parsed = parseDagText(text);
  if (!parsed.ok) return { ok: false, problems: parsed.problems.map((problem) => problem.message) };
  return { ok: true, raw: parsed.raw ?? {} };
}

/** A policy file into a checked policy, or the problems found, each naming its field. */
export function parsePolicyText(text: string): { ok: true; policy: RepoPolicy } | { ok: false; problems: string[] } {
  const parsed = parseLimitedYaml(text);
  if (!parsed.ok) return parsed;
  const checked = RepoPolicy.safeParse(parsed.raw);
  if (!checked.success) return { ok: false, problems: zodProblems(checked.error, 'policy') };
  return { ok: true, policy: checked.data };
}
