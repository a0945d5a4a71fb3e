import { RE2JS } from 're2js';

/**
 * Regular expressions written by DAG authors (param `pattern`) or built from their globs run against
 * values callers send. JavaScript's RegExp backtracks, so `([a-z0-9]+-?)+` on thirty characters can
 * hold the API or a worker for minutes; these run on RE2JS, whose matching time is linear in the
 * input whatever the pattern. Pure JavaScript, so it also runs inside the workflow sandbox.
 */

/** Longer patterns are refused: compiling is linear too, but nobody needs a novel to check a name. */
export const MAX_PATTERN_LENGTH = 1000;

/** A pattern RE2 cannot compile, or one that is too long. `reason` has no location; callers add theirs. */
export class PatternSyntaxError extends Error {
  override readonly name = 'PatternSyntaxError';
  constructor(
    readonly pattern: string,
    readonly reason: string,
  ) {
    super(`invalid regular expression /${pattern.length > 80 ? `${pattern.slice(0, 80)}…` : pattern}/: ${reason}`);
  }
}

export interface LinearRegex {
  /** True when the pattern matches somewhere in `text`. */
  test(text: string): boolean;
  /** True when the pattern matches all of `text`. */
  matchesWhole(text: string): boolean;
}

function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const detail = message.replace(/^error parsing regexp: /, '');
  // RE2 refuses exactly the constructs that need backtracking; say so, since the message alone reads like a typo.
  return /Perl syntax|invalid escape sequence: `\\[1-9]|invalid named capture: `\(\?<[=!]/.test(message)
    ? `${detail} (lookaround and backreferences are not supported: patterns use RE2 syntax, which always matches in linear time)`
    : detail;
}

/** Compiles `source` with RE2 semantics. Throws PatternSyntaxError. `maxLength` is for generated patterns (globs). */
export function compileLinearRegex(source: string, options: { maxLength?: number } = {}): LinearRegex {
  const maxLength = options.maxLength ?? MAX_PATTERN_LENGTH;
  if (source.length > maxLength) throw new PatternSyntaxError(source, `longer than ${maxLength} characters`);
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(source);
  } catch (error) {
    throw new PatternSyntaxError(source, reasonOf(error));
  }
  return {
    test: (text) => compiled.test(text),
    matchesWhole: (text) => compiled.matches(text),
  };
}

/** Why `source` cannot be used as a pattern (`invalid regular expression /…/: reason`), or undefined when it can. */
export function linearRegexProblem(source: string): string | undefined {
  try {
    compileLinearRegex(source);
    return undefined;
  } catch (error) {
    if (error instanceof PatternSyntaxError) return error.message;
    throw error;
  }
}
