import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

const NODE_BUILTINS = ['fs', 'path', 'os', 'child_process', 'net', 'http', 'https', 'crypto', 'util', 'stream', 'worker_threads', 'process', 'timers', 'dns', 'url'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', '.data/**', 'bin/**', 'eslint.config.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
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
  {
    // Workflow code must stay deterministic and bundle for the sandbox: no Node built-ins, activities as types only.
    files: ['workflows/**/*.ts'],
    ignores: ['workflows/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: NODE_BUILTINS.flatMap((name) => [name, `node:${name}`]).map((name) => ({ name, message: 'workflow code must not use Node built-ins' })),
          patterns: [{ group: ['../activities/*', '../activities/**'], allowTypeImports: true, message: 'workflows import activities as types only' }],
        },
      ],
      'no-restricted-globals': ['error', { name: 'setTimeout', message: 'use sleep() from @temporalio/workflow' }, { name: 'process', message: 'not available in workflows' }],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'use the SDK random' }],
    },
  },
);
