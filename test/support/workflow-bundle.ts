import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../config/config';
import { workflowBundle } from '../../workers/workflow-bundle';

/**
 * The workflow bundle for tests: the product's content-hashed bundle cache, kept under .data/test/ and shared
 * by every test file (bundling takes seconds; a changed source builds a new one).
 */
export async function testWorkflowBundle(workflowsPath = path.join(PROJECT_ROOT, 'workflows', 'index.ts')): Promise<{ code: string }> {
  const { codePath } = await workflowBundle({ dataDir: path.join(PROJECT_ROOT, '.data', 'test'), workflowsPath });
  return { code: readFileSync(codePath, 'utf8') };
}

if (require.main === module) {
  void testWorkflowBundle().then(() => console.log('workflow bundle ready'));
}
