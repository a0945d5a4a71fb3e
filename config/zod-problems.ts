import type { z } from 'zod';

/**
 * Located one-line problems from zod issues, the single formatter every folder uses.
 * Pure (zod types only): workflow code reaches it through dag-repos/schema/zod-problems.ts.
 */

/** Longest located path kept in a problem; keys come from callers' input and may be huge. */
export const MAX_PROBLEM_PATH_CHARS = 200;
/** Longest message kept; zod lists every unknown key in one message. */
export const MAX_PROBLEM_MESSAGE_CHARS = 1000;

function capped(text: string, limit: number): string {
  if (text.length <= limit) return text;
  // Do not cut a surrogate pair in half.
  const end = /[\uD800-\uDBFF]/.test(text.charAt(limit - 1)) ? limit - 1 : limit;
  return `${text.slice(0, end)}…`;
}

function located(path: readonly PropertyKey[], message: string, rootName: string, prefix: string): string {
  // String() because a symbol key would make Array.join throw.
  const at = path.map((key) => String(key)).join('.');
  return `${prefix}${capped(at, MAX_PROBLEM_PATH_CHARS) || rootName}: ${capped(message, MAX_PROBLEM_MESSAGE_CHARS)}`;
}

/**
 * One issue as `<prefix><path or rootName>: <message>`; `rootName` stands for the empty path
 * (the whole value), `prefix` goes before the located path (indentation, or a parent such as `with.`).
 */
export function zodProblem(issue: z.core.$ZodIssue, rootName: string, prefix = ''): string {
  return located(issue.path, issue.message, rootName, prefix);
}

/** Every issue of `error` as a located line (see zodProblem). */
export function zodProblems(error: z.ZodError, rootName: string, prefix = ''): string[] {
  return error.issues.map((issue) => zodProblem(issue, rootName, prefix));
}

/** Every issue located below `parent`: `parent.<path>`, or `parent` alone for the whole value (an action's `with`). */
export function zodProblemsUnder(error: z.ZodError, parent: string): string[] {
  return error.issues.map((issue) => located([parent, ...issue.path], issue.message, '', ''));
}
