import type { z } from 'zod';

export interface ShapeProblem {
  path: (string | number)[];
  message: string;
  /** Point at the mapping key rather than its value (unknown fields). */
  atKey: boolean;
}

function describeReceived(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current = root;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** zod issues as located, readable problems: one per unknown key, types named in plain words. */
export function shapeProblems(error: z.ZodError, input: unknown): ShapeProblem[] {
  const problems: ShapeProblem[] = [];
  for (const issue of error.issues) {
    const path = issue.path.filter((key): key is string | number => typeof key !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ path: [...path, key], message: `unknown field "${key}"`, atKey: true });
      continue;
    }
    const received = valueAt(input, path);
    if (issue.code === 'invalid_type') {
      const message =
        received === undefined ? `required field is missing (expected ${issue.expected})` : `expected ${issue.expected}, got ${describeReceived(received)}`;
      problems.push({ path, message, atKey: false });
      continue;
    }
    if (issue.code === 'invalid_union') {
      problems.push({ path, message: `${issue.message === 'Invalid input' ? 'value has the wrong type' : issue.message}, got ${describeReceived(received)}`, atKey: false });
      continue;
    }
    problems.push({ path, message: issue.message, atKey: false });
  }
  return problems;
}
