import { z } from 'zod';
import { zodProblems } from '../dag-repos/schema/zod-problems';

/**
 * One audit record: who did what to which target, from where, and how it ended. Shared by the
 * client (which builds and checks entries before sending) and the audit workflow (which checks them
 * again, since anyone who can reach Temporal can send a signal). Pure: runs inside workflows.
 */

/** Longest value of each free-text field, after control characters are escaped. */
export const AUDIT_LIMITS = { name: 200, via: 32, action: 64, target: 512, from: 256, detail: 2000, entryBytes: 4096 } as const;

// Control, format (bidi overrides, zero-width) and line/paragraph separators: they can forge lines
// in a terminal or log, or make one name look like another.
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const HIDDEN_ALL = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/** Whether a name is printable on one line with no surrounding blanks (people in approvals, aborts, audit). */
export function isPlainName(value: unknown, max: number = AUDIT_LIMITS.name): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max && !HIDDEN.test(value) && value.trim() === value;
}

/** "who" for messages: the person, or "admin for alice" when someone acted for another. */
export function actorText(who: { by: string; onBehalfOf?: string }): string {
  return who.onBehalfOf && who.onBehalfOf !== who.by ? `${who.by} for ${who.onBehalfOf}` : who.by;
}

/** A person or service name: printable, no surrounding blanks. Refused, never rewritten, because it identifies someone. */
const Name = z
  .string()
  .min(1)
  .max(AUDIT_LIMITS.name)
  .refine((value) => !HIDDEN.test(value), 'must not contain control or invisible characters')
  .refine((value) => value.trim() === value, 'must not start or end with blanks');

/** Free text (targets, details, addresses): already sanitised by auditEntry, so only its shape is checked here. */
const Text = (max: number, min = 0) => z.string().min(min).max(max).refine((value) => !HIDDEN.test(value), 'must not contain control or invisible characters');

export const AuditOutcome = z.enum(['ok', 'refused', 'failed']);
export type AuditOutcome = z.infer<typeof AuditOutcome>;

export const AuditEntry = z.strictObject({
  /** When it happened, by the recording caller's clock (ISO 8601, UTC); it also picks the hour shard. */
  at: z.iso.datetime(),
  /** The authenticated identity that acted (a user, `local` OS user, or a service such as `webhook`). */
  actor: Name,
  /** How the caller reached us: `local` (CLI on this machine), `api`, `webhook`, ... */
  via: z.string().min(1).max(AUDIT_LIMITS.via).regex(/^[a-z][a-z0-9-]*$/, 'lowercase letters, digits and dashes'),
  /** What was done, e.g. `run.start`, `approval.approve`, `repo.sync`, `token.revoke`. */
  action: z.string().min(1).max(AUDIT_LIMITS.action).regex(/^[a-z][a-z0-9.-]*$/, 'lowercase letters, digits, dots and dashes'),
  /** What it was done to: a run id, repo name, user name. */
  target: Text(AUDIT_LIMITS.target, 1),
  outcome: AuditOutcome,
  /** Where the request came from (client address), when known. */
  from: Text(AUDIT_LIMITS.from).optional(),
  /** Set when an admin acted for someone else: that person. */
  onBehalfOf: Name.optional(),
  /** One line of context: a refusal reason, a comment, a started run id. */
  detail: Text(AUDIT_LIMITS.detail).optional(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/** What callers give: the entry without its time. */
export type AuditEntryInput = Omit<AuditEntry, 'at'>;

/** UTF-8 size of a string, without TextEncoder (not every workflow sandbox has it). */
export function utf8Bytes(text: string): number {
  let bytes = 0;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/**
 * Makes free text safe to show on one line: each hidden character becomes a visible `\uXXXX`
 * escape (so a newline cannot start a forged entry), then the text is cut to `max` characters
 * with a marker saying how much was cut.
 */
export function sanitiseText(text: string, max: number): string {
  const escaped = text.replace(HIDDEN_ALL, (char) => `\\u${(char.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`);
  if (escaped.length <= max) return escaped;
  const marker = `…[${escaped.length - max} more chars]`;
  return `${escaped.slice(0, Math.max(0, max - marker.length))}${marker}`;
}

export class AuditEntryError extends Error {
  override readonly name = 'AuditEntryError';
}

function problems(error: z.ZodError): string {
  return zodProblems(error, 'entry').join('; ');
}

/** Entries one batch signal may carry (client/audit.ts recordAuditBatch); the rest of a longer one is counted as rejected. */
export const AUDIT_BATCH_MAX_ENTRIES = 200;

/**
 * Builds a checked entry: free text is sanitised, names and codes are refused when malformed
 * (AuditEntryError), and the whole entry must fit AUDIT_LIMITS.entryBytes.
 */
export function auditEntry(input: AuditEntryInput, at: Date): AuditEntry {
  const raw = input as Partial<Record<keyof AuditEntryInput, unknown>>;
  const text = (value: unknown, max: number) => (typeof value === 'string' ? sanitiseText(value, max) : value);
  const candidate = {
    ...input,
    at: at.toISOString(),
    target: text(raw.target, AUDIT_LIMITS.target),
    ...(raw.from !== undefined ? { from: text(raw.from, AUDIT_LIMITS.from) } : {}),
    ...(raw.detail !== undefined ? { detail: text(raw.detail, AUDIT_LIMITS.detail) } : {}),
  };
  const parsed = AuditEntry.safeParse(candidate);
  if (!parsed.success) throw new AuditEntryError(`audit entry refused: ${problems(parsed.error)}`);
  if (utf8Bytes(JSON.stringify(parsed.data)) > AUDIT_LIMITS.entryBytes) throw new AuditEntryError(`audit entry refused: larger than ${AUDIT_LIMITS.entryBytes} bytes`);
  return parsed.data;
}

/** Checks an entry that arrived at the workflow; undefined when it is not a valid entry. */
export function checkedEntry(value: unknown): AuditEntry | undefined {
  const parsed = AuditEntry.safeParse(value);
  if (!parsed.success || utf8Bytes(JSON.stringify(parsed.data)) > AUDIT_LIMITS.entryBytes) return undefined;
  return parsed.data;
}

/** A filter on entries, applied inside the workflow's query so only matches travel. */
export interface AuditFilter {
  /** ISO time; entries at or after it. */
  since?: string;
  user?: string;
  action?: string;
  limit?: number;
}

/** Whether an entry matches: `user` is the actor or the person acted for; `action` matches exactly or as a prefix ending in a dot (`run.`). */
export function matchesAudit(entry: AuditEntry, filter: AuditFilter): boolean {
  if (filter.since && entry.at < filter.since) return false;
  if (filter.user && entry.actor !== filter.user && entry.onBehalfOf !== filter.user) return false;
  if (filter.action && entry.action !== filter.action && !(filter.action.endsWith('.') && entry.action.startsWith(filter.action))) return false;
  return true;
}
