import { createHash } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import { needsVersionApproval, type RepoPolicy } from '../dag-repos/schema/repo-policy';
import type { ApproveException, ApproveVersion, ExceptionRecord, PendingException, PolicyForRepo, PolicyState, SetPolicy, StoredPolicy, VersionApproval } from '../workflows/repo-policy-types';
import { DEFAULT_POLICY_REPO, effectivePolicy } from '../workflows/repo-policy-types';
import { readHostRegistry } from './hosts';

/** Repository policies, securityAllow approvals and production version approvals, kept in the policy workflow (workflows/repo-policy.ts). */

export { DEFAULT_POLICY_REPO };
export type { ExceptionRecord, PendingException, PolicyForRepo, PolicyState, RepoPolicy, StoredPolicy, VersionApproval };

/** Where the policy workflow lives: its id, and the task queue it is started on when first written to. */
export interface PolicyStore {
  client: Client;
  workflowId: string;
  taskQueue: string;
}

/** A refusal of the policy store (bad input, unknown repository or exception, an author approving their own exception). */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';
}

const EMPTY: PolicyState = { repos: {}, exceptions: [], versions: [] };

async function update<R, A>(store: PolicyStore, name: string, arg: A): Promise<R> {
  await store.client.workflow.start('repoPolicyStore', { workflowId: store.workflowId, taskQueue: store.taskQueue, args: [{}], workflowIdConflictPolicy: 'USE_EXISTING', staticSummary: 'Qubinode repository policies' });
  try {
    return await store.client.workflow.getHandle(store.workflowId).executeUpdate<R, [A]>(name, { args: [arg] });
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) throw new PolicyError(error.cause?.message ?? error.message);
    throw error;
  }
}

function notFound(error: unknown): boolean {
  return error instanceof WorkflowNotFoundError || (error as { name?: string }).name === 'WorkflowNotFoundError';
}

/** Every policy and approval; empty when none was ever set. */
export async function readPolicies(store: Pick<PolicyStore, 'client' | 'workflowId'>): Promise<PolicyState> {
  try {
    return await store.client.connection.withDeadline(Date.now() + 5000, () => store.client.workflow.getHandle(store.workflowId).query<PolicyState>('policies'));
  } catch (error) {
    if (notFound(error)) return EMPTY;
    throw error;
  }
}

/** The policy in force for one repository (its own, the default, or none) and its approved exceptions. */
export async function policyForRepo(store: Pick<PolicyStore, 'client' | 'workflowId'>, repo: string): Promise<PolicyForRepo> {
  try {
    return await store.client.connection.withDeadline(Date.now() + 5000, () => store.client.workflow.getHandle(store.workflowId).query<PolicyForRepo, [string]>('policyFor', repo));
  } catch (error) {
    if (notFound(error)) return { ...effectivePolicy(EMPTY, repo), approvedExceptions: [], approvedVersions: [] };
    throw error;
  }
}

/** Sets (or with null removes) a repository's policy; `*` is the default for repositories without one. */
export function setPolicy(store: PolicyStore, repo: string, policy: RepoPolicy | null, by: string): Promise<StoredPolicy | null> {
  return update<StoredPolicy | null, SetPolicy>(store, 'setPolicy', { repo, policy, by });
}

/** Records the securityAllow exceptions a sync found; known ones keep their state. */
export function recordExceptions(store: PolicyStore, found: PendingException[]): Promise<ExceptionRecord[]> {
  return update<ExceptionRecord[], PendingException[]>(store, 'recordExceptions', found);
}

export function approveException(store: PolicyStore, request: ApproveException): Promise<ExceptionRecord> {
  return update<ExceptionRecord, ApproveException>(store, 'approveException', request);
}

export function approveVersion(store: PolicyStore, request: ApproveVersion): Promise<VersionApproval> {
  return update<VersionApproval, ApproveVersion>(store, 'approveVersion', request);
}

/** Serialises with keys in order, so the same DAG always hashes the same. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** SHA-256 of what a DAG version runs: its compiled plan, commit included. */
export function dagVersionHash(dag: CompiledDag): string {
  return createHash('sha256').update(canonical({ catalogId: dag.catalogId, commit: dag.origin.commit, tasks: dag.tasks, children: dag.children, params: dag.params })).digest('hex');
}


/** A run of a DAG version nobody approved, aimed at a host whose labels the policy names in `approveNewVersionsOn`. */
export class VersionApprovalNeededError extends Error {
  override readonly name = 'VersionApprovalNeededError';
  constructor(
    readonly dag: string,
    readonly commit: string,
    readonly host: string,
  ) {
    super(`DAG ${dag} at ${commit.slice(0, 12)} needs approval before its first run on production hosts (${host}): qubinode policy approve-version ${dag} --commit ${commit}`);
  }
}

/**
 * Refuses to start a DAG version that needs an approval first: its repository's policy names host labels
 * in `approveNewVersionsOn`, a literal `runsOn` of the DAG targets a host carrying one of them (by the
 * labels its worker announced), and this exact plan at this commit was not approved. No policy, or no
 * such labels: nothing is read beyond the policy.
 */
export async function refuseUnapprovedVersion(
  store: Pick<PolicyStore, 'client' | 'workflowId'>,
  dag: CompiledDag,
  targets: readonly { queue: string }[],
  hostLabels: (queues: string[]) => Promise<Record<string, Readonly<Record<string, string>>>>,
): Promise<void> {
  if (targets.length === 0) return;
  const effective = await policyForRepo(store, dag.origin.repo);
  if (!effective.policy?.approveNewVersionsOn?.length) return;
  const queues = [...new Set(targets.map((target) => target.queue))];
  const labels = await hostLabels(queues);
  const production = queues.find((queue) => needsVersionApproval(effective.policy, labels[queue] ?? {}));
  if (!production) return;
  const hash = dagVersionHash(dag);
  if (effective.approvedVersions.some((version) => version.dag === dag.catalogId && version.commit === dag.origin.commit && version.hash === hash)) return;
  throw new VersionApprovalNeededError(dag.catalogId, dag.origin.commit, production);
}

/** The labels each host's most recently seen worker announced (the known hosts, client/hosts.ts). */
export function announcedLabels(client: Client): (queues: string[]) => Promise<Record<string, Readonly<Record<string, string>>>> {
  return async (queues) => {
    const registry = await readHostRegistry(client);
    return Object.fromEntries(queues.map((queue) => [queue, (Object.hasOwn(registry.queues, queue) ? registry.queues[queue]?.[0]?.labels : undefined) ?? {}]));
  };
}
