import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { checkDagFile, type CheckResult, type CompileContext } from '../compiler/compile';
import { localCommit } from './git-info';

/** Repository name given to DAG files run or validated straight from a path. */
export const LOCAL_REPO = 'local';

/** Reads and checks a DAG file given by path; errors name the path as the user typed it. */
export function checkDagPath(filePath: string, context: CompileContext): CheckResult {
  const text = readFileSync(filePath, 'utf8');
  return checkDagFile({ repo: LOCAL_REPO, path: filePath, commit: localCommit(path.dirname(path.resolve(filePath))), text }, context);
}

export function looksLikePath(ref: string): boolean {
  return /\.ya?ml$/i.test(ref) || ref.startsWith('.') || ref.startsWith('/');
}
