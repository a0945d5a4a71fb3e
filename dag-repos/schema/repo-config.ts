import { z } from 'zod';
import { Duration } from './dag-spec';
import { branchNameProblem } from './git-refs';
import { apiUrlProblem } from './forge-api';

const ENV_NAME = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { message: 'must be an environment variable name (e.g. QUBINODE_HOOK_SECRET)' });

/** A URL git can fetch, with no credentials inside it. */
export const RepoUrl = z
  .string()
  .min(1)
  .refine((url) => !/^https?:\/\/[^/@]+@/.test(url), { message: 'must not contain credentials; put a token in an environment variable and pass --token-env' })
  .refine((url) => /^(https?:\/\/|ssh:\/\/|file:\/\/|git@[^:]+:|\/|\.{1,2}\/)/.test(url), { message: 'must be https://, ssh://, git@host:path, file:// or a local path' })
  // A host that starts with "-" would reach ssh as an option; control characters could split a config line.
  .refine((url) => !/^(?:[a-z]+:\/\/(?:[^@/]*@)?|git@)-/i.test(url) && !/[\u0000-\u001f\u007f]/.test(url), { message: 'must not have a host starting with "-" or contain control characters' });

/** One Git repository of DAGs, as registered with `qubinode repo add`. Holds names of secrets, never their values. */
export const RepoConfig = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, { message: 'letters, digits, ".", "_" or "-" (at most 63)' }),
    url: RepoUrl,
    branch: z
      .string()
      .default('main')
      .superRefine((branch, ctx) => {
        const problem = branchNameProblem(branch);
        if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
      }),
    path: z
      .string()
      .default('dags')
      .refine((dir) => !dir.startsWith('/') && !dir.split('/').includes('..'), { message: 'must be a folder inside the repository' }),
    webhookSecretEnv: ENV_NAME.optional().describe('Env var holding the webhook secret (HMAC key or GitLab token).'),
    tokenEnv: ENV_NAME.optional().describe('Env var holding an access token: https fetches and commit statuses.'),
    sshKeyEnv: ENV_NAME.optional().describe('Env var holding an SSH private key (the key itself, or the path of its file) for ssh URLs.'),
    knownHostsEnv: ENV_NAME.optional().describe('Env var holding the known_hosts lines (or the path of a known_hosts file) the SSH server must match; without it the first key seen is trusted and pinned.'),
    poll: Duration.optional().describe('Sync on this interval too (for repositories without webhooks).'),
    forge: z.enum(['github', 'gitlab', 'bitbucket', 'generic']).default('generic'),
    /** Forge API base for commit statuses (GitHub Enterprise, self-hosted GitLab). */
    apiUrl: z
      .string()
      .superRefine((value, context) => {
        const problem = apiUrlProblem(value);
        if (problem) context.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .describe('Forge API base when it cannot be derived from the URL; the token is sent only there.'),
  })
  .strict();
export type RepoConfig = z.infer<typeof RepoConfig>;
export type RepoConfigInput = z.input<typeof RepoConfig>;

/** Names (never values) of the environment variables holding a repository's credentials on workers. */
export interface RepoCredentialEnv {
  tokenEnv?: string;
  sshKeyEnv?: string;
  knownHostsEnv?: string;
}

/** The credential variable names of a repository, only those set (they travel in workflow inputs). */
export function credentialEnvOf(config: RepoCredentialEnv): RepoCredentialEnv {
  return {
    ...(config.tokenEnv ? { tokenEnv: config.tokenEnv } : {}),
    ...(config.sshKeyEnv ? { sshKeyEnv: config.sshKeyEnv } : {}),
    ...(config.knownHostsEnv ? { knownHostsEnv: config.knownHostsEnv } : {}),
  };
}

/** The forge a URL belongs to, when the user did not say. */
export function guessForge(url: string): RepoConfig['forge'] {
  if (/github\.com[/:]/.test(url)) return 'github';
  if (/gitlab/.test(url)) return 'gitlab';
  if (/bitbucket\.org[/:]/.test(url)) return 'bitbucket';
  return 'generic';
}
