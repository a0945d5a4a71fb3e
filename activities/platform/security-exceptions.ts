import { createHash } from 'node:crypto';
import type { PendingException } from '../../dag-repos/schema/repo-policy';
import type { Finding } from '../../dag-repos/schema/findings';
import type { CommitAuthor } from './git/commit-trust';

/** A finding a task's `securityAllow` accepts, and the text of that task (an approval covers this exact task). */
export interface Allowance {
  finding: Finding;
  taskText: string;
}

/** The id of an exception: it changes whenever the task, rule or reason changes, so an approval never covers an edited task. */
export function exceptionId(parts: { repo: string; file: string; taskText: string; rule: string; reason: string }): string {
  return createHash('sha256').update([parts.repo, parts.file, parts.taskText, parts.rule, parts.reason].join('\u0000')).digest('hex').slice(0, 24);
}

/**
 * The exceptions of a commit that nobody has approved yet. Their findings stop being allowed (a high one
 * blocks the commit again) and say what to approve and who may; the list goes to the policy store.
 */
export function pendingExceptions(input: { repo: string; commit: string; author: CommitAuthor; allowances: readonly Allowance[]; approved: readonly string[] }): PendingException[] {
  const pending = new Map<string, PendingException>();
  for (const { finding, taskText } of input.allowances) {
    const reason = finding.allowedBecause ?? '';
    const id = exceptionId({ repo: input.repo, file: finding.file, taskText, rule: finding.rule, reason });
    if (input.approved.includes(id)) continue;
    delete finding.allowedBecause;
    finding.message = `${finding.message}; its securityAllow ("${reason.slice(0, 200)}") waits for approval by an approver other than the commit's author ${input.author.name} <${input.author.email}>: qubinode policy approve-exception ${id}`;
    pending.set(id, { id, repo: input.repo, file: finding.file.slice(0, 500), task: finding.task ?? '?', rule: finding.rule, reason: reason.slice(0, 500), commit: input.commit, author: input.author });
  }
  return [...pending.values()];
}
