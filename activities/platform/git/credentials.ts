import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { guessForge, type RepoConfig, type RepoCredentialEnv } from '../../../dag-repos/schema/repo-config';

/** Who a fetch is for: the repository's name (for messages), its forge, and the names of its credential variables. */
export interface RepoAccess extends RepoCredentialEnv {
  name: string;
  forge?: RepoConfig['forge'];
}

/** simple-git's guard switches a fetch needs; each is enabled only when its variable is really set. */
export interface GitUnsafeSwitches {
  allowUnsafeConfigEnvCount?: boolean;
  allowUnsafeSshCommand?: boolean;
}

/** What one git network command runs with. `close()` removes the temporary key files; call it when git is done. */
export interface GitAccess {
  env: Record<string, string>;
  unsafe: GitUnsafeSwitches;
  /** Credential values: redacted from anything git prints before it leaves the activity. */
  secrets: string[];
  close(): void;
}

// The ssh command line names variables, never values: git runs it through `sh -c`, which expands them as data.
const KEY_VAR = 'QUBINODE_GIT_SSH_KEY';
const KNOWN_HOSTS_VAR = 'QUBINODE_GIT_KNOWN_HOSTS';

export function isSshUrl(url: string): boolean {
  return /^ssh:\/\//i.test(url) || /^[^/:@]+@[^/:]+:/.test(url);
}

function isLoopbackHttp(url: string): boolean {
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);
  } catch {
    return false;
  }
}

function missing(access: RepoAccess, variable: string, field: string, what: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'SecretNotFound', nonRetryable: true, message: `repo ${access.name}: environment variable ${variable} (${field}) ${what}` });
}

/**
 * An https token travels as an `Authorization` header scoped to the repository URL
 * (`http.<url>.extraHeader` through GIT_CONFIG_* variables), so it is never on a command line, in a
 * URL, or in the mirror's config, and a redirect to another host does not receive it.
 */
function tokenAccess(url: string, access: RepoAccess, env: NodeJS.ProcessEnv): Pick<GitAccess, 'env' | 'secrets'> {
  const variable = access.tokenEnv ?? '';
  const token = env[variable];
  if (!token) throw missing(access, variable, 'tokenEnv', 'is not set on the worker');
  if (url.startsWith('http://') && !isLoopbackHttp(url)) {
    throw ApplicationFailure.create({ type: 'InsecureCredentialTransport', nonRetryable: true, message: `repo ${access.name}: refusing to send a token over plain http to ${new URL(url).host}; use https` });
  }
  // Bitbucket Cloud wants this user name with an access token; GitHub and GitLab accept any name.
  const user = (access.forge ?? guessForge(url)) === 'bitbucket' ? 'x-token-auth' : 'x-access-token';
  const basic = Buffer.from(`${user}:${token}`).toString('base64');
  return {
    env: { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: `http.${url}.extraHeader`, GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}` },
    secrets: [token, basic],
  };
}

/** A variable holding either the file's text or the path of an existing file: the path, writing the text when needed. */
function materialise(value: string, looksLikeText: boolean, file: () => string): string {
  if (!looksLikeText) return value;
  // Keys pasted into env files often carry "\n" escapes instead of line breaks; ssh needs the final newline.
  const text = value.includes('\n') ? value : value.replace(/\\n/g, '\n');
  const target = file();
  writeFileSync(target, text.endsWith('\n') ? text : `${text}\n`, { mode: 0o600, flag: 'wx' });
  return target;
}

/** Longer than any fetch may run (git's block timeout is two minutes): a scratch directory this old was left by a killed process. */
const STALE_SCRATCH_MS = 60 * 60 * 1000;

/** Key copies left behind by a process that died mid-fetch do not stay on disk. */
function sweepStaleScratch(sshDir: string): void {
  for (const entry of readdirSync(sshDir)) {
    if (!entry.startsWith('run-')) continue;
    const dir = path.join(sshDir, entry);
    try {
      if (Date.now() - statSync(dir).mtimeMs > STALE_SCRATCH_MS) rmSync(dir, { recursive: true, force: true });
    } catch {
      // Removed meanwhile by another fetch's sweep.
    }
  }
}

/**
 * ssh with the repository's key and host-key policy. With `knownHostsEnv` the server must match those
 * keys exactly (strict). Without it, the first key a server shows is trusted and pinned in this cache's
 * known_hosts (accept-new), and a later different key is refused.
 */
function sshAccess(access: RepoAccess, env: NodeJS.ProcessEnv, sshDir: string): Pick<GitAccess, 'env' | 'secrets'> & { scratch?: string } {
  mkdirSync(sshDir, { recursive: true, mode: 0o700 });
  sweepStaleScratch(sshDir);
  let scratch: string | undefined;
  const scratchFile = (name: string): string => {
    scratch ??= mkdtempSync(path.join(sshDir, 'run-'));
    return path.join(scratch, name);
  };
  const result: Record<string, string> = {};
  const secrets: string[] = [];
  const options = ['-o BatchMode=yes', '-o ConnectTimeout=30', '-o LogLevel=ERROR', '-o HashKnownHosts=no'];
  try {
    if (access.sshKeyEnv) {
      const value = env[access.sshKeyEnv];
      if (!value) throw missing(access, access.sshKeyEnv, 'sshKeyEnv', 'is not set on the worker');
      const isKeyText = value.includes('PRIVATE KEY');
      if (!isKeyText && (!path.isAbsolute(value) || !existsSync(value))) throw missing(access, access.sshKeyEnv, 'sshKeyEnv', 'holds neither a private key nor the absolute path of an existing key file');
      result[KEY_VAR] = materialise(value, isKeyText, () => scratchFile('id'));
      if (isKeyText) secrets.push(value);
      options.push('-o IdentitiesOnly=yes', `-i "$${KEY_VAR}"`);
    }
    if (access.knownHostsEnv) {
      const value = env[access.knownHostsEnv];
      if (!value) throw missing(access, access.knownHostsEnv, 'knownHostsEnv', 'is not set on the worker');
      const isText = value.includes('\n') || !path.isAbsolute(value.trim());
      if (!isText && !existsSync(value)) throw missing(access, access.knownHostsEnv, 'knownHostsEnv', 'names a known_hosts file that does not exist');
      result[KNOWN_HOSTS_VAR] = materialise(value, isText, () => scratchFile('known_hosts'));
      options.push('-o StrictHostKeyChecking=yes', '-o GlobalKnownHostsFile=/dev/null', '-o UpdateHostKeys=no');
    } else {
      result[KNOWN_HOSTS_VAR] = path.join(sshDir, 'known_hosts');
      options.push('-o StrictHostKeyChecking=accept-new');
    }
  } catch (error) {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
    throw error;
  }
  options.push(`-o UserKnownHostsFile="$${KNOWN_HOSTS_VAR}"`);
  result.GIT_SSH_COMMAND = `ssh ${options.join(' ')}`;
  result.GIT_SSH_VARIANT = 'ssh';
  return { env: result, secrets, ...(scratch ? { scratch } : {}) };
}

/**
 * The environment for one git network command against `url`, carrying the repository's credentials
 * (named by `access`, read from `env`) without putting them on a command line or in a stored config.
 * `sshDir` holds this machine's pinned host keys and, for the command's lifetime, key files.
 */
export function openGitAccess(url: string, access: RepoAccess, options: { sshDir: string; env?: NodeJS.ProcessEnv }): GitAccess {
  const env = options.env ?? process.env;
  // No prompts: a worker has no terminal. (Transports such as ext:: are refused by the URL schema and by git's defaults.)
  const gitEnv: Record<string, string> = { GIT_TERMINAL_PROMPT: '0' };
  const unsafe: GitUnsafeSwitches = {};
  const secrets: string[] = [];
  let scratch: string | undefined;
  if (access.tokenEnv && /^https?:\/\//i.test(url)) {
    const token = tokenAccess(url, access, env);
    Object.assign(gitEnv, token.env);
    secrets.push(...token.secrets);
    unsafe.allowUnsafeConfigEnvCount = true;
  }
  if (isSshUrl(url)) {
    const ssh = sshAccess(access, env, options.sshDir);
    Object.assign(gitEnv, ssh.env);
    secrets.push(...ssh.secrets);
    scratch = ssh.scratch;
    unsafe.allowUnsafeSshCommand = true;
  }
  return {
    env: gitEnv,
    unsafe,
    secrets,
    close: () => {
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    },
  };
}
