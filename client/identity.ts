import { createHash, randomBytes } from 'node:crypto';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { IssueToken, PutUser, TokenRecord, UserRecord, IdentityState, Role } from '../workflows/identity-types';
import { BOOTSTRAP_USER, MAX_TOKEN_LIFETIME_MS, ROLES } from '../workflows/identity-types';
import { DEFAULT_TOKEN_LIFETIME } from './identity-names';

/** Users and personal API tokens, kept in the identity workflow (workflows/identity.ts). */

export { BOOTSTRAP_USER, ROLES };
export type { IdentityState, Role, TokenRecord, UserRecord };

/** Where the identity workflow lives: its id, and the task queue it is started on when first written to. */
export interface IdentityStore {
  client: Client;
  workflowId: string;
  taskQueue: string;
}

/** A refusal (bad input, unknown user or token, a rule of the store): its message is the whole story. */
export class IdentityError extends Error {
  override readonly name = 'IdentityError';
}

export const TOKEN_PREFIX = 'qnt_';
export { DEFAULT_TOKEN_LIFETIME };

/** SHA-256 of a token, lowercase hex: what the store keeps instead of the token. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** `30d`, `12h`, `90m`: a token lifetime in milliseconds, at most 366 days. */
export function parseLifetime(text: string): number {
  const match = /^(\d{1,4})([dhm])$/.exec(text.trim());
  if (!match) throw new IdentityError(`lifetime "${text}": use a number and d, h or m, e.g. 30d`);
  const ms = Number(match[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[match[2] as 'd' | 'h' | 'm'];
  if (ms <= 0 || ms > MAX_TOKEN_LIFETIME_MS) throw new IdentityError(`lifetime "${text}": between 1 minute and 366 days`);
  return ms;
}

async function update<R, A>(store: IdentityStore, name: string, arg: A): Promise<R> {
  // The first write creates the store; later ones find it running.
  await store.client.workflow.start('identityStore', { workflowId: store.workflowId, taskQueue: store.taskQueue, args: [{}], workflowIdConflictPolicy: 'USE_EXISTING', staticSummary: 'Qubinode users and API tokens' });
  try {
    return await store.client.workflow.getHandle(store.workflowId).executeUpdate<R, [A]>(name, { args: [arg] });
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) throw new IdentityError(error.cause?.message ?? error.message);
    throw error;
  }
}

/** Every user and token (hashes included: only the API and admins read this). Empty when nothing was ever stored. */
export async function readIdentity(store: IdentityStore): Promise<IdentityState> {
  try {
    return await store.client.connection.withDeadline(Date.now() + 5000, () => store.client.workflow.getHandle(store.workflowId).query<IdentityState>('identity'));
  } catch (error) {
    if (error instanceof WorkflowNotFoundError || (error as { name?: string }).name === 'WorkflowNotFoundError') return { users: [], tokens: [] };
    throw error;
  }
}

export function addUser(store: IdentityStore, name: string, roles: readonly string[]): Promise<UserRecord> {
  return update<UserRecord, PutUser>(store, 'putUser', { mode: 'add', name, roles: [...roles] as Role[] });
}

export function setUserRoles(store: IdentityStore, name: string, roles: readonly string[]): Promise<UserRecord> {
  return update<UserRecord, PutUser>(store, 'putUser', { mode: 'change', name, roles: [...roles] as Role[] });
}

export function setUserDisabled(store: IdentityStore, name: string, disabled: boolean): Promise<UserRecord> {
  return update<UserRecord, PutUser>(store, 'putUser', { mode: 'change', name, disabled });
}

/** Removes a user and revokes every live token of theirs. */
export function removeUser(store: IdentityStore, name: string): Promise<{ removed: string; revokedTokens: string[] }> {
  return update(store, 'removeUser', { name });
}

export interface IssuedToken {
  /** Shown once; only its hash is stored. */
  token: string;
  record: TokenRecord;
}

/** Issues a personal token: 32 random bytes, base64url, prefixed `qnt_`; the store gets only its hash. */
export async function issueToken(store: IdentityStore, request: { user: string; lifetime?: string; description?: string }, now = new Date()): Promise<IssuedToken> {
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  const expires = new Date(now.getTime() + parseLifetime(request.lifetime ?? DEFAULT_TOKEN_LIFETIME)).toISOString();
  const arg: IssueToken = { id: randomBytes(8).toString('hex'), user: request.user, hash: tokenHash(token), expires, ...(request.description ? { description: request.description } : {}) };
  const record = await update<TokenRecord, IssueToken>(store, 'issueToken', arg);
  return { token, record };
}

export function revokeToken(store: IdentityStore, id: string): Promise<TokenRecord> {
  return update<TokenRecord, { id: string }>(store, 'revokeToken', { id });
}

export type TokenState = 'live' | 'expired' | 'revoked';

/** A token as listed to people: no hash. */
export interface TokenView extends Omit<TokenRecord, 'hash'> {
  state: TokenState;
}

export function tokenState(token: TokenRecord, now = Date.now()): TokenState {
  if (token.revoked) return 'revoked';
  return Date.parse(token.expires) > now ? 'live' : 'expired';
}

export function tokenViews(state: IdentityState, filter: { user?: string } = {}, now = Date.now()): TokenView[] {
  return state.tokens
    .filter((token) => !filter.user || token.user === filter.user)
    .map(({ hash: _hash, ...token }) => ({ ...token, state: tokenState({ ...token, hash: '' }, now) }));
}
