import { ApplicationFailure } from '@temporalio/common';
import { InvalidGitRefError } from '../../../dag-repos/schema/git-refs';
import { createRedactor } from '../../process/redact';
import type { RepoAccess } from './credentials';

/** Failure types of git fetches; the credential ones are not retried (the same credentials fail again). */
export const GIT_ERRORS = {
  GitAuthFailed: 'GitAuthFailed',
  GitHostKeyRejected: 'GitHostKeyRejected',
  GitFetchFailed: 'GitFetchFailed',
  InvalidGitRef: 'InvalidGitRef',
  InvalidRepoUrl: 'InvalidRepoUrl',
} as const;

const CLASSES: readonly { pattern: RegExp; type: keyof typeof GIT_ERRORS; explain: (access: RepoAccess) => string }[] = [
  {
    pattern: /terminal prompts disabled|could not read (Username|Password)/i,
    type: 'GitAuthFailed',
    explain: (access) => access.tokenEnv ? 'the server did not accept the token' : 'the server asks for credentials and none are configured (set --token-env for https, --ssh-key-env for ssh)',
  },
  { pattern: /Authentication failed|HTTP (401|403)|returned error: 40[13]/i, type: 'GitAuthFailed', explain: (access) => access.tokenEnv ? `the server refused the token from ${access.tokenEnv}` : 'the server asks for credentials and none are configured (set --token-env)' },
  { pattern: /Permission denied \(|Too many authentication failures/i, type: 'GitAuthFailed', explain: (access) => access.sshKeyEnv ? `the SSH server refused the key from ${access.sshKeyEnv}` : 'the SSH server refused this worker (set --ssh-key-env)' },
  {
    pattern: /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|host key .* (not known|mismatch)/i,
    type: 'GitHostKeyRejected',
    explain: (access) => access.knownHostsEnv ? `the SSH server's host key is not among those in ${access.knownHostsEnv}` : 'the SSH server\'s host key differs from the one pinned on this worker at first contact',
  },
];

/** What git printed, redacted: all of it to classify the failure, its last lines for the message. */
function gitSaid(error: unknown, redact: (text: string) => string): { all: string; tail: string } {
  const text = error instanceof Error ? error.message : String(error);
  const lines = redact(text).split('\n').map((line) => line.trim()).filter(Boolean);
  return { all: lines.join('\n'), tail: lines.slice(-3).join(' | ').slice(0, 400) };
}

/** A failed fetch as a typed failure whose message says what to fix and carries no credential. */
export function fetchFailure(access: RepoAccess, url: string, error: unknown, secrets: readonly string[]): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  const redact = createRedactor(secrets);
  const said = gitSaid(error, redact);
  const known = CLASSES.find((entry) => entry.pattern.test(said.all));
  const reason = known ? known.explain(access) : 'git fetch failed';
  return ApplicationFailure.create({
    type: known ? GIT_ERRORS[known.type] : GIT_ERRORS.GitFetchFailed,
    nonRetryable: known !== undefined,
    message: redact(`repo ${access.name}: cannot fetch ${url}: ${reason} (git: ${said.tail})`),
  });
}

/** A refused commit, branch or URL as a failure that is not retried. */
export function refusedInput(error: unknown): unknown {
  if (error instanceof InvalidGitRefError) return ApplicationFailure.create({ type: GIT_ERRORS.InvalidGitRef, nonRetryable: true, message: error.message });
  return error;
}
