/** `owner/name` (GitHub, Bitbucket) or the full project path (GitLab) from a clone URL. */
export function projectPath(url: string): string | undefined {
  const match = /^(?:https?:\/\/[^/]+\/|ssh:\/\/(?:[^@/]+@)?[^/]+\/|git@[^:]+:)(.+?)(?:\.git)?\/?$/.exec(url);
  return match?.[1];
}
