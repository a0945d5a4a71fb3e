import { z } from 'zod';
import { Duration } from '../schema/dag-spec';

const ENV_NAME = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, { message: 'must be an environment variable name (e.g. QUBINODE_HOOK_SECRET)' });

/** A URL git can fetch, with no credentials inside it. */
export const RepoUrl = z
  .string()
  .min(1)
  .refine((url) => !/^https?:\/\/[^/@]+@/.test(url), { message: 'must not contain credentials; put a token in an environment variable and pass --token-env' })
  .refine((url) => /^(https?:\/\/|ssh:\/\/|file:\/\/|git@[^:]+:|\/|\.{1,2}\/)/.test(url), { message: 'must be https://, ssh://, git@host:path, file:// or a local path' });

/** One Git repository of DAGs, as registered with `qubinode repo add`. Holds names of secrets, never their values. */
export const RepoConfig = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, { message: 'letters, digits, ".", "_" or "-" (at most 63)' }),
    url: RepoUrl,
    branch: z.string().min(1).default('main'),
    path: z
      .string()
      .default('dags')
      .refine((dir) => !dir.startsWith('/') && !dir.split('/').includes('..'), { message: 'must be a folder inside the repository' }),
    webhookSecretEnv: ENV_NAME.optional().describe('Env var holding the webhook secret (HMAC key or GitLab token).'),
    tokenEnv: ENV_NAME.optional().describe('Env var holding an access token: https fetches and commit statuses.'),
    sshKeyEnv: ENV_NAME.optional().describe('Env var holding the path of an SSH private key for ssh:// URLs.'),
    poll: Duration.optional().describe('Sync on this interval too (for repositories without webhooks).'),
    forge: z.enum(['github', 'gitlab', 'bitbucket', 'generic']).default('generic'),
    /** Forge API base for commit statuses (GitHub Enterprise, self-hosted GitLab). */
    apiUrl: z.string().url().optional(),
  })
  .strict();
export type RepoConfig = z.infer<typeof RepoConfig>;
export type RepoConfigInput = z.input<typeof RepoConfig>;

/** The forge a URL belongs to, when the user did not say. */
export function guessForge(url: string): RepoConfig['forge'] {
  if (/github\.com[/:]/.test(url)) return 'github';
  if (/gitlab/.test(url)) return 'gitlab';
  if (/bitbucket\.org[/:]/.test(url)) return 'bitbucket';
  return 'generic';
}
