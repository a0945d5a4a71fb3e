import { compileLinearRegex, type LinearRegex } from './linear-regex';

/** Longer globs are refused by the schema; branch names and paths are far shorter. */
export const MAX_GLOB_LENGTH = 256;

/** The regular expression (RE2 syntax) of a trigger glob: `*` within a path segment, `**` across segments, `?` one character. */
function globToPattern(glob: string): string {
  let out = '';
  for (let index = 0; index < glob.length; index += 1) {
    const char = glob[index] ?? '';
    if (char === '*') {
      if (glob[index + 1] === '*') {
        out += '.*';
        index += 1;
        if (glob[index + 1] === '/') index += 1;
      } else out += '[^/]*';
    } else if (char === '?') out += '[^/]';
    else out += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return out;
}

// Matching is linear in the value (RE2), so a branch name or path from a webhook payload cannot stall a worker.
function compileGlob(glob: string): LinearRegex {
  // Each glob character becomes at most five pattern characters ('*' is '[^/]*').
  return compileLinearRegex(globToPattern(glob), { maxLength: MAX_GLOB_LENGTH * 5 });
}

/** True when `value` matches one of `globs`; a glob over the length limit (refused at compile time) matches nothing. */
export function matchesAny(value: string, globs: readonly string[]): boolean {
  return globs.some((glob) => glob.length <= MAX_GLOB_LENGTH && compileGlob(glob).matchesWhole(value));
}
