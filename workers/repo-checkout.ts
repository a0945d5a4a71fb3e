import type { ActionInvocation } from '../dag-repos/actions/action-types';
import type { GitCache } from '../activities/platform/git/git-cache';
import type { DagDirectory } from '../config/config';
import { isCommitSha } from '../dag-repos/schema/git-refs';
import type { RepoCredentialEnv } from '../dag-repos/schema/repo-config';

type AnyActivity = (...args: never[]) => Promise<unknown>;

function isInvocation(value: unknown): value is ActionInvocation {
  return value !== null && typeof value === 'object' && 'taskId' in value && 'with' in value;
}

/** This worker's checkout of a synced repository at a commit, fetched with the repository's credential variables. */
export function checkoutSource(cache: GitCache, source: { repo: string; url: string; commit: string; credentialEnv?: RepoCredentialEnv }): Promise<string> {
  return cache.checkout(source.url, source.commit, { name: source.repo, ...source.credentialEnv });
}

/**
 * Gives every action the files of the commit its run is pinned to: a Git-synced repository is
 * fetched and extracted once per SHA on this worker; a local DAG directory is used as it is.
 */
export function withRepoCheckout<T extends Record<string, AnyActivity>>(activities: T, cache: GitCache, dagDirectories: readonly DagDirectory[]): T {
  const wrapped: Record<string, AnyActivity> = {};
  for (const [name, activity] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      const [first, ...rest] = args as unknown[];
      if (!isInvocation(first) || !first.source) return activity(...args);
      const { source } = first;
      let repoDir: string | undefined;
      if (source.url && isCommitSha(source.commit)) {
        repoDir = await checkoutSource(cache, { ...source, url: source.url });
      } else {
        repoDir = dagDirectories.find((directory) => directory.repo === source.repo)?.dir;
      }
      return activity(...([repoDir ? { ...first, repoDir } : first, ...rest] as never[]));
    };
  }
  return wrapped as T;
}
