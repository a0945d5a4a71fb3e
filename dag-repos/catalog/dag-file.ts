import * as path from 'node:path';
import { checkDagFile, type CheckResult, type CompileContext } from '../compiler/compile';
import { readDagFileText } from './catalog-file';
import { localCommit } from './git-info';

/** Repository name given to DAG files run or validated straight from a path. */
export const LOCAL_REPO = 'local';

/** Reads and checks a DAG file given by path; errors name the path as the user typed it. */
export function checkDagPath(filePath: string, context: CompileContext): CheckResult {
  const read = readDagFileText(filePath, filePath);
  if (!read.ok) return { diagnostics: [read.diagnostic] };
  return checkDagFile({ repo: LOCAL_REPO, path: filePath, commit: localCommit(path.dirname(path.resolve(filePath))), text: read.text }, context);
}

export function looksLikePath(ref: string): boolean {
  return /\.ya?ml$/i.test(ref) || ref.startsWith('.') || ref.startsWith('/');
}
