import { readFileSync, statSync } from 'node:fs';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import type { ActionRegistry } from '../../dag-repos/actions/registry';
import type { TaskFailureType } from '../../dag-repos/actions/failure-types';
import { actionRefusal, ActionPattern, globMatches, hostRefusal, needsVersionApproval, POLICY_LIMITS, type EffectivePolicy } from '../../dag-repos/schema/repo-policy';
import { parseLimitedYaml, POLICY_FILE_MAX_BYTES } from '../../dag-repos/security/policy-files';
import type { ActionInvocation } from '../../dag-repos/actions/action-types';
import { zodProblems } from '../../config/zod-problems';

/**
 * Each host's own check before an action runs: the repository's policy, read from Temporal by this
 * worker (cached a few seconds), and this host's cap file, which nothing on the control plane can
 * widen. A task the control plane dispatched although a rule forbids it gets a non-retryable failure
 * naming the rule, and its tool never starts.
 */

export const POLICY_REFUSED_ON_HOST = 'PolicyRefused' satisfies TaskFailureType;

/** The host's cap (QUBINODE_HOST_POLICY_FILE): the repositories and actions it accepts at most. An absent list caps nothing. */
export const HostPolicyCap = z.strictObject({
  repos: z.array(z.string().regex(/^[a-zA-Z0-9_.*-]{1,100}$/, 'a repository name or glob')).max(POLICY_LIMITS.patterns).optional(),
  actions: z.array(ActionPattern).max(POLICY_LIMITS.patterns).optional(),
});
export type HostPolicyCap = z.infer<typeof HostPolicyCap>;

export class HostPolicyFileError extends Error {
  override readonly name = 'HostPolicyFileError';
}

/** Reads the host cap file. One that is missing, too large or ill-shaped stops the worker: running uncapped would be the wrong failure. */
export function loadHostPolicyCap(file: string): HostPolicyCap {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > POLICY_FILE_MAX_BYTES) throw new HostPolicyFileError(`host policy file ${file}: ${size} bytes; at most ${POLICY_FILE_MAX_BYTES}`);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof HostPolicyFileError) throw error;
    throw new HostPolicyFileError(`host policy file ${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const parsed = parseLimitedYaml(text);
  if (!parsed.ok) throw new HostPolicyFileError(`host policy file ${file}: ${parsed.problems.join('; ')}`);
  const checked = HostPolicyCap.safeParse(parsed.raw);
  if (!checked.success) throw new HostPolicyFileError(`host policy file ${file}: ${zodProblems(checked.error, 'cap').join('; ')}`);
  return checked.data;
}

export interface PolicyGateDeps {
  /** The action registry of this worker: which actions each activity carries out. */
  registry: ActionRegistry;
  /** This host's labels (QUBINODE_HOST_LABELS). */
  labels: Readonly<Record<string, string>>;
  /** The policy in force for a repository, read from Temporal, with its approved DAG versions. */
  policyFor: (repo: string) => Promise<GatePolicy>;
  cap?: HostPolicyCap;
  /** How long a policy read is reused (default 3 s): a changed policy takes effect within this. */
  cacheMs?: number;
  now?: () => number;
}

type GatePolicy = EffectivePolicy & { approvedVersions?: readonly { dag: string; commit: string }[] };

type AnyActivity = (...args: never[]) => Promise<unknown>;

function isInvocation(value: unknown): value is ActionInvocation {
  return value !== null && typeof value === 'object' && 'taskId' in value && 'with' in value;
}

function refuse(message: string): never {
  throw ApplicationFailure.create({ type: POLICY_REFUSED_ON_HOST, message, nonRetryable: true });
}

/** The actions an activity carries out, by this worker's registry (the control plane's word is not taken for it). */
function actionsByActivity(registry: ActionRegistry): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const name of registry.names()) {
    const execution = registry.get(name)?.execution;
    // An action carried out by a workflow reaches the host through the activities that workflow names.
    const activities = execution?.kind === 'activity' ? [execution.activity] : execution?.kind === 'workflow' ? (execution.hostActivities ?? []) : [];
    for (const activity of activities) map.set(activity, [...(map.get(activity) ?? []), name]);
  }
  return map;
}

/** The repository a task comes from: its pinned source, else the first part of its DAG id. */
function repoOf(invocation: ActionInvocation): string {
  return invocation.source?.repo ?? invocation.dagId.split('/')[0] ?? '';
}

/**
 * Wraps every action activity: before it runs, the task's repository, action and this host are
 * checked against the host's cap and the repository's policy. Calls that are not action
 * invocations pass through untouched.
 */
export function withPolicyGate<T extends Record<string, AnyActivity>>(activities: T, deps: PolicyGateDeps): T {
  const actions = actionsByActivity(deps.registry);
  const cacheMs = deps.cacheMs ?? 3000;
  const now = deps.now ?? Date.now;
  const cache = new Map<string, { at: number; policy: GatePolicy }>();
  // One read per repository at a time: the tasks of a fan-out that find the policy stale share the next read
  // instead of each querying Temporal. A failed read is not kept; the next task reads again.
  const reading = new Map<string, Promise<GatePolicy>>();
  const policyOf = (repo: string): Promise<GatePolicy> => {
    const cached = cache.get(repo);
    if (cached && now() - cached.at < cacheMs) return Promise.resolve(cached.policy);
    let read = reading.get(repo);
    if (!read) {
      read = deps
        .policyFor(repo)
        .then((policy) => {
          cache.set(repo, { at: now(), policy });
          return policy;
        })
        .finally(() => reading.delete(repo));
      reading.set(repo, read);
    }
    return read;
  };

  const wrapped: Record<string, AnyActivity> = {};
  for (const [name, activity] of Object.entries(activities)) {
    const served = actions.get(name) ?? [name];
    wrapped[name] = async (...args: never[]) => {
      const [first] = args as unknown[];
      if (!isInvocation(first)) return activity(...args);
      const repo = repoOf(first);
      const queue = Context.current().info.taskQueue;
      const task = `task ${first.taskId} of ${first.dagId}`;
      const { cap } = deps;
      if (cap?.repos && !cap.repos.some((pattern) => globMatches(pattern, repo))) refuse(`${task}: host ${queue} does not accept repository ${repo} (its host policy file allows ${cap.repos.join(', ') || 'none'})`);
      if (cap?.actions && !served.some((action) => cap.actions?.some((pattern) => globMatches(pattern, action)))) {
        refuse(`${task}: host ${queue} does not accept action ${served.join('/')} (its host policy file allows ${cap.actions.join(', ') || 'none'})`);
      }
      const effective = await policyOf(repo);
      const policy = effective.policy;
      if (policy) {
        const refusals = served.map((action) => actionRefusal(policy, action));
        const refusal = refusals.every(Boolean) ? refusals[0] : undefined;
        if (refusal) refuse(`${task}: action ${served.join('/')} refused on host ${queue}: ${refusal} (${effective.source} policy of ${repo})`);
        const hostRefused = hostRefusal(policy, queue, deps.labels);
        if (hostRefused) refuse(`${task}: repository ${repo} may not run on host ${queue}: ${hostRefused} (${effective.source} policy of ${repo})`);
        // The host judges by its own labels; it knows the commit, not the compiled plan, so any approved DAG of this commit counts.
        const commit = first.source?.commit;
        if (needsVersionApproval(policy, deps.labels) && !effective.approvedVersions?.some((version) => version.commit === commit)) {
          refuse(`${task}: ${first.dagId} at ${commit?.slice(0, 12) ?? 'an unpinned commit'} needs approval before its first run on production hosts (host ${queue}): qubinode policy approve-version ${first.dagId}`);
        }
      }
      return activity(...args);
    };
  }
  return wrapped as T;
}
