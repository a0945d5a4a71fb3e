import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PROJECT_ROOT } from '../../config/config';

const BUNDLE_PATH = path.join(PROJECT_ROOT, '.data', 'test', 'workflow-bundle.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

/**
 * The workflow bundle for tests, built once and reused by every test file (bundling takes seconds);
 * rebuilt when any workflow-side source changed.
 */
export async function testWorkflowBundle(workflowsPath = path.join(PROJECT_ROOT, 'workflows', 'index.ts')): Promise<{ code: string }> {
  const target = workflowsPath.endsWith(path.join('workflows', 'index.ts')) ? BUNDLE_PATH : `${BUNDLE_PATH}.${path.basename(path.dirname(workflowsPath))}.js`;
  const sources = Math.max(newestSource(path.join(PROJECT_ROOT, 'workflows')), newestSource(path.join(PROJECT_ROOT, 'dag-repos')), newestSource(path.dirname(workflowsPath)));
  if (existsSync(target) && statSync(target).mtimeMs > sources) return { code: readFileSync(target, 'utf8') };
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: { info: () => undefined, warn: () => undefined, error: console.error, debug: () => undefined, trace: () => undefined, log: () => undefined } });
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, code);
  return { code };
}

if (require.main === module) {
  void testWorkflowBundle().then(() => console.log(`workflow bundle ready: ${BUNDLE_PATH}`));
}
