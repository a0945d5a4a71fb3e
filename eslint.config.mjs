import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

const NODE_BUILTINS = ['fs', 'path', 'os', 'child_process', 'net', 'http', 'https', 'crypto', 'util', 'stream', 'worker_threads', 'process', 'timers', 'dns', 'url'];

// The layers of shared/DESIGN.md ("may import" column). dag-repos is split into its pure parts (they run
// inside workflows) and the rest, because workflows may import only the pure parts.
const PURE_DAG_REPOS = ['dag-repos/schema', 'dag-repos/compiler', 'dag-repos/expressions', 'dag-repos/actions'];
const DAG_REPOS = [...PURE_DAG_REPOS, 'dag-repos/git', 'dag-repos/catalog', 'dag-repos/security', 'dag-repos/examples'];
const UNITS = [...DAG_REPOS, 'config', 'workflows', 'activities', 'plugins', 'ai', 'workers', 'client', 'api', 'cli', 'infra', 'test', 'bench'];

/**
 * What each folder may import besides itself. A type-only import counts too. `workflows` reaches
 * activities (and the AI activities in ai/) as types only: that is checked by the type-aware rule in
 * the workflow block below, so both stay out of its zone here. `cli` reaches what it runs (the worker,
 * the API, the dev server) only through their entry modules.
 */
const MAY_IMPORT = {
  'dag-repos/schema': [...PURE_DAG_REPOS, 'config'],
  'dag-repos/compiler': [...PURE_DAG_REPOS, 'config'],
  'dag-repos/expressions': [...PURE_DAG_REPOS, 'config'],
  'dag-repos/actions': [...PURE_DAG_REPOS, 'config'],
  'dag-repos/git': [...DAG_REPOS, 'config'],
  'dag-repos/catalog': [...DAG_REPOS, 'config'],
  'dag-repos/security': [...DAG_REPOS, 'config'],
  config: [],
  workflows: [...PURE_DAG_REPOS, 'activities', 'ai'],
  activities: [...DAG_REPOS, 'plugins', 'ai', 'config'],
  plugins: [...DAG_REPOS, 'config'],
  ai: [...DAG_REPOS, 'config'],
  // "everything below client"
  workers: [...DAG_REPOS, 'config', 'workflows', 'activities', 'plugins', 'ai'],
  // workflows for their types, ids, signal and query definitions
  client: ['workflows', ...DAG_REPOS, 'config'],
  api: ['client', ...DAG_REPOS, 'config'],
  // The dev server and its search attributes are entry modules too: `qubinode server` and `qubinode up` start them.
  cli: ['client', 'workers/main.ts', 'api/main.ts', 'workers/local-tools.ts', 'infra/temporal-dev-server.ts', 'infra/search-attributes.ts'],
};

/** One zone per folder the unit may not import; entry modules allowed from a forbidden folder become its exceptions. */
function zonesFor(unit) {
  const allowed = MAY_IMPORT[unit];
  const forbidden = UNITS.filter((other) => other !== unit && !allowed.includes(other) && !unit.startsWith(`${other}/`));
  return forbidden.map((from) => {
    const except = allowed.filter((entry) => entry.startsWith(`${from}/`)).map((entry) => `./${entry.slice(from.length + 1)}`);
    return {
      target: `./${unit}`,
      from: `./${from}`,
      ...(except.length > 0 ? { except } : {}),
      message: `${unit} may import only ${allowed.join(', ') || 'nothing of the project'} (shared/DESIGN.md)`,
    };
  });
}

// No file is excepted: a crossing is fixed where it is, by moving code or passing it in.
const layerBlocks = Object.keys(MAY_IMPORT).map((unit) => ({
  files: [`${unit}/**/*.ts`],
  ignores: ['**/*.test.ts'],
  rules: { 'import-x/no-restricted-paths': ['error', { basePath: import.meta.dirname, zones: zonesFor(unit) }] },
}));

const noBuiltins = {
  paths: NODE_BUILTINS.flatMap((name) => [name, `node:${name}`]).map((name) => ({ name, message: 'workflow code must not use Node built-ins' })),
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', '.data/**', 'bin/**', 'eslint.config.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.tsx', '.js', '.json', '.node'] })] },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
      'import-x/no-cycle': 'error',
      'no-eval': 'error',
      'no-new-func': 'error',
    },
  },
  {
    // node:test's describe/it return promises that the runner itself awaits.
    files: ['**/*.test.ts'],
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
  ...layerBlocks,
  {
    // The web page runs in the browser (bundled by api/ui-build.ts): no Node built-ins, whatever their spelling.
    files: ['api/ui/page/**/*.ts', 'api/ui/page/**/*.tsx'],
    ignores: ['**/*.test.ts'],
    rules: { 'import-x/no-nodejs-modules': 'error', '@typescript-eslint/no-restricted-imports': ['error', noBuiltins] },
  },
  {
    // The pure parts of dag-repos run inside workflows: no Node built-ins, whatever their spelling.
    // Two files there are tooling that no workflow reaches (test/workflow-imports.test.ts checks that):
    // the expression tests' helper and the script writing dag-v1.schema.json.
    files: PURE_DAG_REPOS.map((unit) => `${unit}/**/*.ts`),
    ignores: ['**/*.test.ts', 'dag-repos/expressions/test-helpers.ts', 'dag-repos/schema/export-json-schema.ts'],
    rules: {
      'import-x/no-nodejs-modules': 'error',
      '@typescript-eslint/no-restricted-imports': ['error', noBuiltins],
    },
  },
  {
    // Workflow code must stay deterministic and bundle for the sandbox: no Node built-ins, activities as types only.
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/**/*.test.ts'],
    rules: {
      'import-x/no-nodejs-modules': 'error',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          ...noBuiltins,
          patterns: [
            { group: ['../activities/*', '../activities/**'], allowTypeImports: true, message: 'workflows import activities as types only' },
            { group: ['../ai/*', '../ai/**'], allowTypeImports: true, message: 'workflows import the AI activities as types only' },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'setTimeout', message: 'use sleep() from @temporalio/workflow' }, { name: 'process', message: 'not available in workflows' }],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'use the SDK random' }],
    },
  },
);
