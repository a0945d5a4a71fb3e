import { ApplicationFailure } from '@temporalio/common';
import type { RepoConfig } from '../../dag-repos/git/repo-config';

/**
 * Environment for git commands that carries credentials without putting them on a command line
 * or in a stored config: an https token as an extra header (GIT_CONFIG_* variables), an SSH key by path.
 */
export function gitCredentialEnv(config: Pick<RepoConfig, 'name' | 'url' | 'tokenEnv' | 'sshKeyEnv'>, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const result: Record<string, string> = { GIT_TERMINAL_PROMPT: '0' };
  if (config.tokenEnv && /^https?:\/\//.test(config.url)) {
    const token = env[config.tokenEnv];
    if (!token) throw ApplicationFailure.create({ type: 'SecretNotFound', nonRetryable: true, message: `repo ${config.name}: environment variable ${config.tokenEnv} (tokenEnv) is not set on the worker` });
    const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
    Object.assign(result, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}` });
  }
  if (config.sshKeyEnv) {
    const keyPath = env[config.sshKeyEnv];
    if (!keyPath) throw ApplicationFailure.create({ type: 'SecretNotFound', nonRetryable: true, message: `repo ${config.name}: environment variable ${config.sshKeyEnv} (sshKeyEnv) is not set on the worker` });
    result.GIT_SSH_COMMAND = `ssh -i '${keyPath.replace(/'/g, '')}' -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new -o BatchMode=yes`;
  }
  return result;
}
