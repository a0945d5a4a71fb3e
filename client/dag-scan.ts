import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { ActionRegistry } from '../dag-repos/actions/registry';
import { yamlFilesUnder } from '../dag-repos/catalog/local-catalog';
import { checkDagFile } from '../dag-repos/compiler/compile';
import type { Finding } from '../dag-repos/schema/findings';
import { scanDagText, scanRepositoryTree } from '../dag-repos/security/scanner';

/**
 * The security scan of `qubinode dag scan`: a DAG file, or a directory's DAG files and its whole tree
 * (symlinks), as a repository sync would scan them. Files compile with the registry's actions, so findings
 * can name the task; it is asked for only when there is a file to compile (loading it loads the plugins).
 */
export function scanDagPath(target: string, registry: () => ActionRegistry): Finding[] {
  const isDir = statSync(target).isDirectory();
  const files = isDir ? yamlFilesUnder(target) : [target];
  const findings = isDir ? scanRepositoryTree(target).map((finding) => ({ ...finding, file: path.join(target, finding.file) })) : [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    const checked = checkDagFile({ repo: 'scan', path: file, commit: 'scan', text }, { registry: registry() });
    findings.push(...scanDagText({ path: file, text }, checked.spec));
  }
  return findings;
}
