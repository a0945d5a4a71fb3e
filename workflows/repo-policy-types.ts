import { z } from 'zod';
import { Hex, PendingException, PolicyRepoName, POLICY_LIMITS, RepoPolicy, Sha, type EffectivePolicy, type PolicyForRepo } from '../dag-repos/schema/repo-policy';
import { zodProblems } from '../dag-repos/schema/zod-problems';

export { PendingException, type PolicyForRepo };

/**
 * Records of the repository policy workflow (workflows/repo-policy.ts): policies, securityAllow
 * exceptions awaiting or holding an approval, and approved DAG versions. Pure data and checks, shared
 * by the workflow's validators and the client.
 */

export const POLICY_REFUSED = 'PolicyRefused';
/** The repository name that stands for every repository without a policy of its own. */
export const DEFAULT_POLICY_REPO = '*';

const Person = z.string().min(1).max(200).regex(/^[^\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+$/u, 'printable text');

export const StoredPolicy = z.strictObject({ policy: RepoPolicy, setBy: Person, setAt: z.string() });
export type StoredPolicy = z.infer<typeof StoredPolicy>;

export const SetPolicy = z.strictObject({
  repo: z.union([PolicyRepoName, z.literal(DEFAULT_POLICY_REPO)]),
  /** null removes the repository's policy. */
  policy: RepoPolicy.nullable(),
  by: Person,
});
export type SetPolicy = z.infer<typeof SetPolicy>;

export interface ExceptionRecord extends PendingException {
  state: 'pending' | 'approved';
  seenAt: string;
  approvedBy?: string;
  approvedAt?: string;
}

export const ApproveException = z.strictObject({ id: Hex, by: Person, onBehalfOf: Person.optional() });
export type ApproveException = z.infer<typeof ApproveException>;

export const ApproveVersion = z.strictObject({
  /** Catalog id `<repo>/<dag id>`. */
  dag: z.string().min(3).max(200).regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]*\/[a-zA-Z0-9][a-zA-Z0-9._/-]*$/, 'a catalog id repo/dag'),
  commit: Sha,
  /** SHA-256 of the compiled DAG the approver saw. */
  hash: Hex,
  by: Person,
});
export type ApproveVersion = z.infer<typeof ApproveVersion>;
export interface VersionApproval extends ApproveVersion {
  at: string;
}

export interface PolicyState {
  repos: Record<string, StoredPolicy>;
  exceptions: ExceptionRecord[];
  versions: VersionApproval[];
}

export { POLICY_LIMITS };

/** The policy in force for a repository: its own, else the default, else none. */
export function effectivePolicy(state: Pick<PolicyState, 'repos'>, repo: string): EffectivePolicy {
  const own = state.repos[repo];
  if (own) return { repo, source: 'repo', policy: own.policy };
  const fallback = state.repos[DEFAULT_POLICY_REPO];
  if (fallback) return { repo, source: 'default', policy: fallback.policy };
  return { repo, source: 'none' };
}

/** Whether a person is the commit's author as git records them: the name, the email or the email's local part, ignoring case. */
export function isAuthor(person: string, author: { name: string; email: string }): boolean {
  const who = person.trim().toLowerCase();
  const email = author.email.trim().toLowerCase();
  const names = [author.name.trim().toLowerCase(), email, email.split('@')[0] ?? ''].filter(Boolean);
  return names.includes(who);
}

export function firstProblem(error: z.ZodError): string {
  return zodProblems(error, 'input')[0] ?? 'invalid input';
}
