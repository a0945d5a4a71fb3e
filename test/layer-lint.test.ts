import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { ESLint } from 'eslint';

// The lint's layer rules (eslint.config.mjs, from shared/DESIGN.md's "may import" column), run on
// made-up files placed in each folder. Only the import rules run: the type-aware rules need the file
// to exist in the TypeScript project, and these files never do.
const ROOT = path.resolve(__dirname, '..');
const eslint = new ESLint({
  cwd: ROOT,
  overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
  ruleFilter: ({ ruleId }) => ruleId.startsWith('import-x/no-restricted-paths') || ruleId === 'import-x/no-nodejs-modules' || ruleId === '@typescript-eslint/no-restricted-imports',
});

async function problems(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return (result?.messages ?? []).map((message) => `${message.ruleId ?? 'parse'}: ${message.message}`);
}

describe('the lint holds each folder to what DESIGN lets it import', () => {
  it('refuses a runtime import of an activity in workflow code and lets its type through', async () => {
    assert.match((await problems('workflows/fixture-layer.ts', "import { shellActivity } from '../activities/actions/shell';\nexport const a = shellActivity;\n")).join('\n'), /activities as types only/);
    assert.deepEqual(await problems('workflows/fixture-layer.ts', "import type { createGitSyncActivities } from '../activities/platform/git-sync';\nexport type G = typeof createGitSyncActivities;\n"), []);
  });

  it('refuses Node built-ins in workflows and in the pure parts of dag-repos, however they are spelled', async () => {
    for (const file of ['workflows/fixture-layer.ts', 'dag-repos/schema/fixture-layer.ts', 'dag-repos/compiler/fixture-layer.ts', 'dag-repos/expressions/fixture-layer.ts', 'dag-repos/actions/fixture-layer.ts']) {
      for (const specifier of ['node:fs', 'fs', 'fs/promises', 'child_process', 'node:vm']) {
        const found = await problems(file, `import * as m from '${specifier}';\nexport const x = m;\n`);
        assert.ok(found.some((line) => line.startsWith('import-x/no-nodejs-modules')), `${file} importing ${specifier}: ${found.join('; ')}`);
      }
    }
    assert.deepEqual(await problems('dag-repos/git/fixture-layer.ts', "import { readFile } from 'node:fs/promises';\nexport const r = readFile;\n"), []);
  });

  it('refuses workflow code the impure parts of dag-repos, even as a type', async () => {
    assert.match((await problems('workflows/fixture-layer.ts', "import type { Finding } from '../dag-repos/security/scanner';\nexport type F = Finding;\n")).join('\n'), /restricted zone/);
  });

  it('refuses a type-only import across layers: api reaching workflows, client reaching activities', async () => {
    assert.match((await problems('api/fixture-layer.ts', "import type { SyncRequestArgs } from '../workflows/repo-sync';\nexport type S = SyncRequestArgs;\n")).join('\n'), /api may import only client/);
    assert.match((await problems('client/fixture-layer.ts', "import type { createGitSyncActivities } from '../activities/platform/git-sync';\nexport type G = typeof createGitSyncActivities;\n")).join('\n'), /client may import only/);
  });

  it('refuses lower folders importing higher ones: config importing anything, dag-repos importing activities, plugins the client', async () => {
    assert.match((await problems('config/fixture-layer.ts', "import { DagSpec } from '../dag-repos/schema/dag-spec';\nexport const d = DagSpec;\n")).join('\n'), /config may import only nothing/);
    assert.match((await problems('dag-repos/catalog/fixture-layer.ts', "export { shellActivity } from '../../activities/actions/shell';\n")).join('\n'), /restricted zone/);
    assert.match((await problems('plugins/fixture-layer.ts', "import { startRun } from '../client/runs';\nexport const s = startRun;\n")).join('\n'), /plugins may import only/);
  });

  it('keeps workers and activities below client: their Temporal calls and run ids are passed in', async () => {
    assert.match((await problems('workers/fixture-layer.ts', "import { announceHost } from '../client/hosts';\nexport const a = announceHost;\n")).join('\n'), /workers may import only/);
    assert.match((await problems('activities/platform/fixture-layer.ts', "import { startRun } from '../../client/runs';\nexport const s = startRun;\n")).join('\n'), /activities may import only/);
    assert.match((await problems('activities/platform/fixture-layer.ts', "import { pushRunKey } from '../../workflows/workflow-ids';\nexport const p = pushRunKey;\n")).join('\n'), /activities may import only/);
    assert.deepEqual(await problems('workers/fixture-layer.ts', "import { pushRunKey } from '../workflows/workflow-ids';\nexport const p = pushRunKey;\n"), []);
  });

  it('lets the CLI start the API and the workers only through their entry modules', async () => {
    assert.match((await problems('cli/fixture-layer.ts', "import { buildApiServer } from '../api/server';\nexport const b = buildApiServer;\n")).join('\n'), /restricted zone/);
    assert.match((await problems('cli/fixture-layer.ts', "import { createQubinodeWorker } from '../workers/qubinode-worker';\nexport const w = createQubinodeWorker;\n")).join('\n'), /restricted zone/);
    assert.match((await problems('cli/fixture-layer.ts', "import { DagSpec } from '../dag-repos/schema/dag-spec';\nexport const d = DagSpec;\n")).join('\n'), /cli may import only client, workers\/main\.ts, api\/main\.ts, workers\/local-tools\.ts, infra\/temporal-dev-server\.ts, infra\/search-attributes\.ts \(/);
    assert.deepEqual(await problems('cli/fixture-layer.ts', "import { startApi } from '../api/main';\nimport { createQubinodeWorker } from '../workers/main';\nexport const s = [startApi, createQubinodeWorker];\n"), []);
    // Settings and the plugins reach the CLI through client/ and the worker's local-tools entry only.
    assert.match((await problems('cli/fixture-layer.ts', "import { loadConfig } from '../config/config';\nexport const l = loadConfig;\n")).join('\n'), /cli may import only/);
    assert.match((await problems('cli/fixture-layer.ts', "import { loadConfiguredPlugins } from '../plugins/plugin-actions';\nexport const l = loadConfiguredPlugins;\n")).join('\n'), /cli may import only/);
    assert.match((await problems('cli/fixture-layer.ts', "import '../infra/production/prepare-namespace';\n")).join('\n'), /cli may import only/);
  });

  it('lets tests, benchmarks and workers import what DESIGN gives them', async () => {
    assert.deepEqual(await problems('test/fixture-layer.test.ts', "import { buildApiServer } from '../api/server';\nimport { shellActivity } from '../activities/actions/shell';\nexport const t = [buildApiServer, shellActivity];\n"), []);
    assert.deepEqual(await problems('workers/fixture-layer.ts', "import { shellActivity } from '../activities/actions/shell';\nimport { dagRun } from '../workflows/dag-run';\nexport const w = [shellActivity, dagRun];\n"), []);
  });
});
