import * as wf from '@temporalio/workflow';
import type { z } from 'zod';
import {
  firstProblem,
  IssueToken,
  MAX_LIVE_TOKENS,
  MAX_TOKEN_LIFETIME_MS,
  MAX_USERS,
  PutUser,
  TokenId,
  UserName,
  type IdentityState,
  type TokenRecord,
  type UserRecord,
} from './identity-types';

export const IDENTITY_REFUSED = 'IdentityRefused';

export const identityStateQuery = wf.defineQuery<IdentityState>('identity');
export const putUserUpdate = wf.defineUpdate<UserRecord, [PutUser]>('putUser');
export const removeUserUpdate = wf.defineUpdate<{ removed: string; revokedTokens: string[] }, [{ name: string }]>('removeUser');
export const issueTokenUpdate = wf.defineUpdate<TokenRecord, [IssueToken]>('issueToken');
export const revokeTokenUpdate = wf.defineUpdate<TokenRecord, [{ id: string }]>('revokeToken');

const CHANGES_PER_HISTORY = 200;

export interface IdentityStoreInput {
  /** Users and tokens carried across continue-as-new. */
  carried?: IdentityState;
  /** Changes before continuing as new (default 200). */
  changesPerHistory?: number;
}
/** Revoked or expired tokens stay listed this long, then are dropped at the next continue-as-new. */
const KEEP_DEAD_TOKENS_MS = 30 * 24 * 3600 * 1000;

function refuse(message: string): never {
  throw wf.ApplicationFailure.nonRetryable(message, IDENTITY_REFUSED);
}

function parsed<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success) refuse(firstProblem(result.error));
  return result.data;
}

function live(token: TokenRecord, now: number): boolean {
  return !token.revoked && Date.parse(token.expires) > now;
}

/**
 * The users and personal API tokens (workflow id `identity/users` by default, from
 * QUBINODE_IDENTITY_WORKFLOW_ID): one long-lived workflow, so every
 * API node reads the same identities and a revoked token stops working everywhere. Tokens arrive
 * already hashed; the secret never enters history. Continues as new to keep its history short.
 */
export async function identityStore(input: IdentityStoreInput = {}): Promise<void> {
  const { carried } = input;
  const changesPerHistory = input.changesPerHistory ?? CHANGES_PER_HISTORY;
  const users = new Map<string, UserRecord>((carried?.users ?? []).map((user) => [user.name, user]));
  const tokens = new Map<string, TokenRecord>((carried?.tokens ?? []).map((token) => [token.id, token]));
  let changes = 0;
  const state = (): IdentityState => ({ users: [...users.values()], tokens: [...tokens.values()] });

  wf.setHandler(identityStateQuery, state);

  wf.setHandler(
    putUserUpdate,
    (input) => {
      const request = PutUser.parse(input);
      const existing = users.get(request.name);
      const user: UserRecord = {
        name: request.name,
        roles: request.roles ?? existing?.roles ?? ['viewer'],
        disabled: request.disabled ?? existing?.disabled ?? false,
        created: existing?.created ?? new Date().toISOString(),
      };
      users.set(user.name, user);
      changes += 1;
      return user;
    },
    {
      validator: (input) => {
        const request = parsed(PutUser, input);
        const exists = users.has(request.name);
        if (request.mode === 'add' && exists) refuse(`user "${request.name}" already exists`);
        if (request.mode === 'add' && !request.roles) refuse('a new user needs at least one role');
        if (request.mode === 'change' && !exists) refuse(`no user "${request.name}"`);
        if (!exists && users.size >= MAX_USERS) refuse(`at most ${MAX_USERS} users`);
      },
    },
  );

  wf.setHandler(
    removeUserUpdate,
    ({ name }) => {
      users.delete(name);
      const now = new Date().toISOString();
      const revokedTokens: string[] = [];
      for (const token of tokens.values()) {
        if (token.user === name && !token.revoked) {
          tokens.set(token.id, { ...token, revoked: now });
          revokedTokens.push(token.id);
        }
      }
      changes += 1;
      return { removed: name, revokedTokens };
    },
    {
      validator: (input) => {
        const name = parsed(UserName, input?.name);
        if (!users.has(name)) refuse(`no user "${name}"`);
      },
    },
  );

  wf.setHandler(
    issueTokenUpdate,
    (input) => {
      const request = IssueToken.parse(input);
      const token: TokenRecord = { ...request, created: new Date().toISOString() };
      tokens.set(token.id, token);
      changes += 1;
      return token;
    },
    {
      validator: (input) => {
        const request = parsed(IssueToken, input);
        const user = users.get(request.user);
        if (!user) refuse(`no user "${request.user}"`);
        if (user.disabled) refuse(`user "${request.user}" is disabled`);
        if (tokens.has(request.id) || [...tokens.values()].some((token) => token.hash === request.hash)) refuse('token id or hash already in use; issue again');
        const now = Date.now();
        const expires = Date.parse(request.expires);
        if (!(expires > now)) refuse('the expiry must lie in the future');
        if (expires - now > MAX_TOKEN_LIFETIME_MS) refuse('a token may live at most 366 days');
        if ([...tokens.values()].filter((token) => live(token, now)).length >= MAX_LIVE_TOKENS) refuse(`at most ${MAX_LIVE_TOKENS} live tokens; revoke some first`);
      },
    },
  );

  wf.setHandler(
    revokeTokenUpdate,
    ({ id }) => {
      const token = tokens.get(id) as TokenRecord;
      const revoked = { ...token, revoked: new Date().toISOString() };
      tokens.set(id, revoked);
      changes += 1;
      return revoked;
    },
    {
      validator: (input) => {
        const id = parsed(TokenId, input?.id);
        const token = tokens.get(id);
        if (!token) refuse(`no token ${id}`);
        if (token.revoked) refuse(`token ${id} was already revoked at ${token.revoked}`);
      },
    },
  );

  await wf.condition(() => changes >= changesPerHistory || wf.workflowInfo().continueAsNewSuggested);
  await wf.condition(wf.allHandlersFinished);
  const cutoff = Date.now() - KEEP_DEAD_TOKENS_MS;
  const kept = state().tokens.filter((token) => Date.parse(token.revoked ?? token.expires) > cutoff);
  await wf.continueAsNew<typeof identityStore>({ carried: { users: state().users, tokens: kept }, ...(input.changesPerHistory ? { changesPerHistory: input.changesPerHistory } : {}) });
}
