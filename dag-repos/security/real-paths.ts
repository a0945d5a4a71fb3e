import { realpathSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Path checks by what the file system resolves, never by how a path is spelled. The native realpath
 * (the C library's) is used on purpose: Node's JavaScript realpath normalises `..` before following
 * symlinks, so `link/../..` would be judged by its spelling.
 */
export function realPath(file: string): string | undefined {
  try {
    return realpathSync.native(file);
  } catch {
    return undefined;
  }
}

/** True when `real` is `realRoot` or below it; both must already be real paths. */
export function isWithin(realRoot: string, real: string): boolean {
  return real === realRoot || real.startsWith(realRoot.endsWith(path.sep) ? realRoot : `${realRoot}${path.sep}`);
}

/** The real path of `file` when it exists and resolves inside `realRoot` (a real path), else undefined. */
export function realPathInside(realRoot: string, file: string): string | undefined {
  const real = realPath(file);
  return real !== undefined && isWithin(realRoot, real) ? real : undefined;
}
