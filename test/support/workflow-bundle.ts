import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PROJECT_ROOT } from '../../config/config';

/** Folders whose sources can end up in the workflow bundle. */
const BUNDLED_SOURCES = ['workflows', 'dag-repos', 'activities', 'bench'];

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'examples' ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

/** Content hash of everything the bundle may include: a changed source always means a new bundle. */
function sourceHash(workflowsPath: string): string {
  const hash = createHash('sha256').update(workflowsPath);
  for (const file of BUNDLED_SOURCES.flatMap((dir) => sourceFiles(path.join(PROJECT_ROOT, dir))).sort()) {
    hash.update(file).update(readFileSync(file));
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * The workflow bundle for tests, built once per source state and reused by every test file
 * (bundling takes seconds).
 */
export async function testWorkflowBundle(workflowsPath = path.join(PROJECT_ROOT, 'workflows', 'index.ts')): Promise<{ code: string }> {
  const target = path.join(PROJECT_ROOT, '.data', 'test', `workflow-bundle-${sourceHash(workflowsPath)}.js`);
  if (existsSync(target)) return { code: readFileSync(target, 'utf8') };
  const quiet = () => undefined;
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: { info: quiet, warn: quiet, error: console.error, debug: quiet, trace: quiet, log: quiet } });
  mkdirSync(path.dirname(target), { recursive: true });
  const staging = `${target}.${process.pid}.tmp`;
  writeFileSync(staging, code);
  renameSync(staging, target);
  return { code };
}

if (require.main === module) {
  void testWorkflowBundle().then(() => console.log('workflow bundle ready'));
}
