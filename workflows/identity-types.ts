import { z } from 'zod';
import { zodProblems } from '../dag-repos/schema/zod-problems';
import { BOOTSTRAP_USER, ROLES } from './identity-names';

/**
 * Who may call the API and with which roles. Pure data and checks: used inside the identity workflow
 * (its update validators) and by the client and API through client/identity.ts.
 */

export { BOOTSTRAP_USER, ROLES };
export const Role = z.enum(ROLES);
export type Role = z.infer<typeof Role>;

/** Letters, digits and `. _ @ -`, so a name is safe in a log line, a table cell and an approver list. */
export const UserName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'a user name is 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit')
  .refine((name) => name !== BOOTSTRAP_USER, `"${BOOTSTRAP_USER}" is the shared token's identity and cannot be a stored user`);

export const RoleList = z
  .array(Role)
  .min(1, 'a user needs at least one role')
  .max(ROLES.length)
  .transform((roles) => ROLES.filter((role) => roles.includes(role)));

export const UserRecord = z.strictObject({
  name: UserName,
  roles: RoleList,
  disabled: z.boolean(),
  created: z.string(),
});
export type UserRecord = z.infer<typeof UserRecord>;

/** Token ids are public handles (list, revoke); the token itself is never stored, only its SHA-256. */
export const TokenId = z.string().regex(/^[0-9a-f]{16}$/, 'a token id is 16 hexadecimal digits');

export const TokenRecord = z.strictObject({
  id: TokenId,
  user: UserName,
  /** SHA-256 of the whole token, lowercase hex. */
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'a token hash is 64 hexadecimal digits'),
  created: z.string(),
  expires: z.string(),
  revoked: z.string().optional(),
  description: z.string().max(200).optional(),
});
export type TokenRecord = z.infer<typeof TokenRecord>;

export interface IdentityState {
  users: UserRecord[];
  tokens: TokenRecord[];
}

export const PutUser = z.strictObject({
  name: UserName,
  roles: RoleList.optional(),
  disabled: z.boolean().optional(),
  /** `add` refuses an existing user; `change` refuses a missing one. */
  mode: z.enum(['add', 'change']),
});
export type PutUser = z.input<typeof PutUser>;

export const IssueToken = z.strictObject({
  id: TokenId,
  user: UserName,
  hash: TokenRecord.shape.hash,
  expires: z.string().datetime({ offset: true }),
  description: z.string().max(200).optional(),
});
export type IssueToken = z.infer<typeof IssueToken>;

export const MAX_USERS = 1000;
export const MAX_LIVE_TOKENS = 5000;
/** Tokens may live at most this long; expiry is required. */
export const MAX_TOKEN_LIFETIME_MS = 366 * 24 * 3600 * 1000;

/** First zod issue as one line naming the field. */
export function firstProblem(error: z.ZodError): string {
  return zodProblems(error, 'input')[0] ?? 'invalid input';
}
