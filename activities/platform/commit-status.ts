import { ApplicationFailure } from '@temporalio/common';
import type { ForgeApi } from '../../dag-repos/schema/forge-api';

/** A request for a URL outside the forge API's origin: the token stays home. */
export class TokenDestinationError extends Error {
  override readonly name = 'TokenDestinationError';
  constructor(
    readonly allowedOrigin: string,
    readonly requestedOrigin: string,
  ) {
    super(`refusing to send the repository's token to ${requestedOrigin}: only ${allowedOrigin} may receive it`);
  }
}

function urlOf(input: Parameters<typeof fetch>[0]): URL {
  return new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
}

/**
 * A fetch that only reaches `origin` and never follows a redirect: fetch keeps custom headers such
 * as GitLab's `private-token` across redirects, so one answer from a compromised or confused
 * server could otherwise carry the token to any host.
 */
export function fetchOnlyTo(origin: string, inner: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const target = urlOf(input);
    if (target.origin !== origin) throw new TokenDestinationError(origin, target.origin);
    const response = await inner(input instanceof Request ? new Request(input, { redirect: 'manual' }) : input, { ...init, redirect: 'manual' });
    // Octokit takes a 3xx for success; an unfollowed redirect means nothing was posted.
    if (response.status >= 300 && response.status < 400 && response.status !== 304) {
      throw ApplicationFailure.create({ type: 'CommitStatusFailed', message: `the forge API at ${origin} answered ${response.status} (a redirect, not followed so the token stays on ${origin})` });
    }
    return response;
  };
}

export interface CommitStatus {
  commit: string;
  ok: boolean;
  description: string;
}

async function postJson(send: typeof fetch, url: string, headers: Record<string, string>, body: unknown, forgeName: string): Promise<void> {
  const response = await send(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) });
  if (!response.ok) throw ApplicationFailure.create({ type: 'CommitStatusFailed', message: `${forgeName} answered ${response.status} for the commit status` });
}

/** Posts one commit status through the forge's REST API, sending the token only to `api.origin`. */
export async function postCommitStatus(api: ForgeApi, token: string, status: CommitStatus, inner: typeof fetch = fetch): Promise<string> {
  const send = fetchOnlyTo(api.origin, inner);
  const description = status.description.slice(0, 139);
  const sha = encodeURIComponent(status.commit);
  switch (api.forge) {
    case 'github': {
      const [owner = '', repo = ''] = api.project.split('/');
      const { Octokit } = await import('@octokit/rest');
      const octokit = new Octokit({ auth: token, baseUrl: api.base, request: { fetch: send } });
      await octokit.repos.createCommitStatus({ owner, repo, sha: status.commit, state: status.ok ? 'success' : 'failure', context: 'qubinode/dags', description });
      return 'github: posted';
    }
    case 'gitlab':
      await postJson(send, `${api.base}/projects/${encodeURIComponent(api.project)}/statuses/${sha}`, { 'private-token': token }, { state: status.ok ? 'success' : 'failed', name: 'qubinode/dags', description }, 'GitLab');
      return 'gitlab: posted';
    case 'bitbucket': {
      const [workspace = '', slug = ''] = api.project.split('/');
      const url = `${api.base}/repositories/${encodeURIComponent(workspace)}/${encodeURIComponent(slug)}/commit/${sha}/statuses/build`;
      // Bitbucket requires a link; the commit's own page is the one certain to exist.
      const link = `https://bitbucket.org/${encodeURIComponent(workspace)}/${encodeURIComponent(slug)}/commits/${sha}`;
      await postJson(send, url, { authorization: `Bearer ${token}` }, { key: 'qubinode-dags', name: 'qubinode/dags', state: status.ok ? 'SUCCESSFUL' : 'FAILED', description, url: link }, 'Bitbucket');
      return 'bitbucket: posted';
    }
  }
}
