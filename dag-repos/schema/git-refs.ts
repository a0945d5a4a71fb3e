/**
 * What may reach a git command line or a cache path as a commit or a branch. Checked before any
 * file-system or git use, so a hostile value (`../../etc`, `--upload-pack=...`) never gets that far.
 * Pure: the sync workflow and the compiler use it too.
 */

/** A full object id: 40 hex digits (SHA-1 repositories) or 64 (SHA-256 repositories). */
const COMMIT_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

export function isCommitSha(value: unknown): value is string {
  return typeof value === 'string' && COMMIT_SHA.test(value);
}

/** A commit or branch git must not be handed. */
export class InvalidGitRefError extends Error {
  override readonly name = 'InvalidGitRefError';
  constructor(readonly kind: 'commit' | 'branch', readonly value: string, reason: string) {
    super(`${kind} ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value)} ${reason}`);
  }
}

export function assertCommitSha(value: string): string {
  if (!isCommitSha(value)) throw new InvalidGitRefError('commit', value, 'is not a full commit SHA (40 or 64 lowercase hex digits)');
  return value;
}

/**
 * Why a branch name is refused, or undefined when git would take it as a branch (the rules of
 * `git check-ref-format --branch`, plus: never starting with "-", so it cannot read as an option).
 */
export function branchNameProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 255) return 'must be 1 to 255 characters';
  if (name.startsWith('-')) return 'must not start with "-"';
  if (/[\u0000-\u0020\u007f~^:?*[\\]/.test(name)) return 'must not contain spaces, control characters or any of ~ ^ : ? * [ \\';
  if (name.includes('..') || name.includes('@{') || name === '@') return 'must not contain ".." or "@{"';
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) return 'must not start or end with "/" or contain "//"';
  if (name.endsWith('.') || name.split('/').some((part) => part.startsWith('.') || part.endsWith('.lock'))) return 'no part may start with "." or end with ".lock", and the name must not end with "."';
  return undefined;
}

export function assertBranchName(name: string): string {
  const problem = branchNameProblem(name);
  if (problem) throw new InvalidGitRefError('branch', name, problem);
  return name;
}
