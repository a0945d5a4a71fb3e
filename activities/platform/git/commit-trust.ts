import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { assertCommitSha } from '../../../dag-repos/schema/git-refs';
import type { Signer } from '../../../dag-repos/schema/repo-policy';

const run = promisify(execFile);

/**
 * What a synced commit says about who made it: its author as git records it, and whether it carries an
 * SSH signature by one of a policy's allowed keys. Values reach git as argv and environment (its
 * configuration through GIT_CONFIG_COUNT), never spliced into an option or a command line.
 */

/** Git sees only what it needs, and no configuration of the machine or user that could name other keys. */
function gitEnv(config: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LANG: 'C' };
  for (const name of ['PATH', 'HOME']) if (process.env[name] !== undefined) env[name] = process.env[name];
  const entries = Object.entries(config);
  env.GIT_CONFIG_COUNT = String(entries.length);
  entries.forEach(([key, value], index) => {
    env[`GIT_CONFIG_KEY_${index}`] = key;
    env[`GIT_CONFIG_VALUE_${index}`] = value;
  });
  return env;
}

export interface CommitAuthor {
  name: string;
  email: string;
}

/** The author of a commit in a mirror, as git records it. */
export async function commitAuthor(mirror: string, commit: string): Promise<CommitAuthor> {
  const { stdout } = await run('git', ['--git-dir', mirror, 'log', '-1', '--no-show-signature', '--format=%an%x00%ae', assertCommitSha(commit), '--'], { env: gitEnv(), maxBuffer: 64 * 1024 });
  const [name = '', email = ''] = stdout.replace(/\n$/, '').split('\0');
  return { name: name.slice(0, 200), email: email.slice(0, 200) };
}

export type SignatureVerdict = { ok: true; signer: string } | { ok: false; reason: string };

const STATUS: Record<string, string> = {
  N: 'it is not signed',
  B: 'its signature is bad',
  U: 'its signature is by a key the policy does not list',
  E: 'its signature cannot be checked (no allowed key matches it)',
  X: 'its signature has expired',
  Y: 'it is signed by an expired key',
  R: 'it is signed by a revoked key',
};

/** Whether a commit carries a good SSH signature by one of `signers` (an allowed-signers file written for this check only). */
export async function verifyCommitSignature(mirror: string, commit: string, signers: readonly Signer[]): Promise<SignatureVerdict> {
  const sha = assertCommitSha(commit);
  const dir = mkdtempSync(path.join(tmpdir(), 'qubinode-signers-'));
  try {
    const file = path.join(dir, 'allowed_signers');
    writeFileSync(file, signers.map((signer) => `${signer.name} namespaces="git" ${signer.key}\n`).join(''), { mode: 0o600 });
    const env = gitEnv({ 'gpg.format': 'ssh', 'gpg.ssh.allowedSignersFile': file });
    const { stdout } = await run('git', ['--git-dir', mirror, 'log', '-1', '--format=%G?%x00%GS', sha, '--'], { env, maxBuffer: 64 * 1024 });
    const [status = 'N', signer = ''] = stdout.replace(/\n$/, '').split('\0');
    if (status === 'G' && signers.some((allowed) => allowed.name === signer)) return { ok: true, signer };
    return { ok: false, reason: STATUS[status] ?? `its signature is not good (git status ${status.slice(0, 2)})` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
