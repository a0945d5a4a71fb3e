import * as wf from '@temporalio/workflow';
import type { z } from 'zod';
import {
  ApproveException,
  ApproveVersion,
  effectivePolicy,
  firstProblem,
  isAuthor,
  PendingException,
  POLICY_LIMITS,
  POLICY_REFUSED,
  SetPolicy,
  type ExceptionRecord,
  type PolicyForRepo,
  type PolicyState,
  type StoredPolicy,
  type VersionApproval,
} from './repo-policy-types';

export const policyStateQuery = wf.defineQuery<PolicyState>('policies');
export const policyForRepoQuery = wf.defineQuery<PolicyForRepo, [string]>('policyFor');
export const setPolicyUpdate = wf.defineUpdate<StoredPolicy | null, [SetPolicy]>('setPolicy');
export const recordExceptionsUpdate = wf.defineUpdate<ExceptionRecord[], [PendingException[]]>('recordExceptions');
export const approveExceptionUpdate = wf.defineUpdate<ExceptionRecord, [ApproveException]>('approveException');
export const approveVersionUpdate = wf.defineUpdate<VersionApproval, [ApproveVersion]>('approveVersion');

const CHANGES_PER_HISTORY = 200;
/** Exceptions a single sync may report; more is a repository abusing the list. */
const EXCEPTIONS_PER_SYNC = 200;

export interface RepoPolicyInput {
  carried?: PolicyState;
  changesPerHistory?: number;
}

function refuse(message: string): never {
  throw wf.ApplicationFailure.nonRetryable(message, POLICY_REFUSED);
}

function parsed<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success) refuse(firstProblem(result.error));
  return result.data;
}

/** Keeps the newest `max` items (old version approvals fall off first). */
function capped<T>(items: T[], max: number): T[] {
  return items.length > max ? items.slice(items.length - max) : items;
}

/** Keeps at most `max` exceptions, dropping the oldest pending ones first: a repository flooding the list cannot push out approvals. */
function cappedExceptions(items: ExceptionRecord[], max: number): ExceptionRecord[] {
  let excess = items.length - max;
  if (excess <= 0) return items;
  const kept = items.filter((entry) => {
    if (excess > 0 && entry.state === 'pending') {
      excess -= 1;
      return false;
    }
    return true;
  });
  return capped(kept, max);
}

/**
 * The admin-held policies of DAG repositories (workflow id `policy/repos`, one per namespace): what
 * each repository's DAGs may do and where, the `securityAllow` exceptions syncs found (pending until
 * someone other than the commit's author approves them) and the DAG versions approved for production
 * hosts. Kept outside the repositories, so a push cannot change it. Continues as new to stay short.
 */
export async function repoPolicyStore(input: RepoPolicyInput = {}): Promise<void> {
  const changesPerHistory = input.changesPerHistory ?? CHANGES_PER_HISTORY;
  const repos = new Map<string, StoredPolicy>(Object.entries(input.carried?.repos ?? {}));
  let exceptions: ExceptionRecord[] = [...(input.carried?.exceptions ?? [])];
  let versions: VersionApproval[] = [...(input.carried?.versions ?? [])];
  let changes = 0;
  const state = (): PolicyState => ({ repos: Object.fromEntries(repos), exceptions, versions });

  wf.setHandler(policyStateQuery, state);
  wf.setHandler(policyForRepoQuery, (repo) => ({
    ...effectivePolicy(state(), repo),
    approvedExceptions: exceptions.filter((entry) => entry.repo === repo && entry.state === 'approved').map((entry) => entry.id),
    approvedVersions: versions.filter((entry) => entry.dag.startsWith(`${repo}/`)).map(({ dag, commit, hash }) => ({ dag, commit, hash })),
  }));

  wf.setHandler(
    setPolicyUpdate,
    (request) => {
      const { repo, policy, by } = SetPolicy.parse(request);
      changes += 1;
      if (policy === null) {
        repos.delete(repo);
        return null;
      }
      const stored: StoredPolicy = { policy, setBy: by, setAt: new Date().toISOString() };
      repos.set(repo, stored);
      return stored;
    },
    {
      validator: (request) => {
        const { repo, policy } = parsed(SetPolicy, request);
        if (policy === null && !repos.has(repo)) refuse(`no policy for ${repo}`);
        if (policy !== null && !repos.has(repo) && repos.size >= POLICY_LIMITS.repos) refuse(`at most ${POLICY_LIMITS.repos} repository policies`);
      },
    },
  );

  wf.setHandler(
    recordExceptionsUpdate,
    (request) => {
      const found = request.map((entry) => PendingException.parse(entry));
      const now = new Date().toISOString();
      const recorded: ExceptionRecord[] = [];
      for (const entry of found) {
        const known = exceptions.find((existing) => existing.id === entry.id);
        if (known) {
          recorded.push(known);
          continue;
        }
        const record: ExceptionRecord = { ...entry, state: 'pending', seenAt: now };
        exceptions.push(record);
        recorded.push(record);
      }
      exceptions = cappedExceptions(exceptions, POLICY_LIMITS.exceptions);
      changes += 1;
      return recorded;
    },
    {
      validator: (request) => {
        if (!Array.isArray(request)) refuse('exceptions: a list');
        if (request.length > EXCEPTIONS_PER_SYNC) refuse(`at most ${EXCEPTIONS_PER_SYNC} exceptions per sync`);
        request.forEach((entry) => parsed(PendingException, entry));
      },
    },
  );

  wf.setHandler(
    approveExceptionUpdate,
    (request) => {
      const { id, by, onBehalfOf } = ApproveException.parse(request);
      const index = exceptions.findIndex((entry) => entry.id === id);
      const approved: ExceptionRecord = { ...(exceptions[index] as ExceptionRecord), state: 'approved', approvedBy: onBehalfOf && onBehalfOf !== by ? `${by} for ${onBehalfOf}` : by, approvedAt: new Date().toISOString() };
      exceptions[index] = approved;
      changes += 1;
      return approved;
    },
    {
      validator: (request) => {
        const { id, by, onBehalfOf } = parsed(ApproveException, request);
        const entry = exceptions.find((candidate) => candidate.id === id);
        if (!entry) refuse(`no exception ${id}`);
        if (entry.state === 'approved') refuse(`exception ${id} was already approved by ${entry.approvedBy ?? '?'}`);
        for (const person of [by, onBehalfOf]) {
          if (person && isAuthor(person, entry.author)) refuse(`${person} wrote commit ${entry.commit.slice(0, 12)} (${entry.author.name} <${entry.author.email}>); its securityAllow needs an approver other than its author`);
        }
      },
    },
  );

  wf.setHandler(
    approveVersionUpdate,
    (request) => {
      const approval: VersionApproval = { ...ApproveVersion.parse(request), at: new Date().toISOString() };
      versions = capped([...versions, approval], POLICY_LIMITS.versions);
      changes += 1;
      return approval;
    },
    {
      validator: (request) => {
        const { dag, commit, hash } = parsed(ApproveVersion, request);
        const known = versions.find((entry) => entry.dag === dag && entry.commit === commit && entry.hash === hash);
        if (known) refuse(`${dag} at ${commit.slice(0, 12)} was already approved by ${known.by}`);
      },
    },
  );

  await wf.condition(() => changes >= changesPerHistory || wf.workflowInfo().continueAsNewSuggested);
  await wf.condition(wf.allHandlersFinished);
  await wf.continueAsNew<typeof repoPolicyStore>({ carried: state(), ...(input.changesPerHistory ? { changesPerHistory: input.changesPerHistory } : {}) });
}
