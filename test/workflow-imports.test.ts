import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describeFindings, findWorkflowImportProblems, isNodeBuiltin, moduleImports } from './support/import-graph';

// What workflow code reaches at run time, followed through every module and not only its own lines:
// the lint checks each file's imports, this checks what the workflow bundle would pull in.
const ROOT = path.resolve(__dirname, '..');
const FORBIDDEN = { forbiddenFolders: ['activities', 'ai', 'plugins', 'client', 'api', 'workers', 'cli'] };

function workflowEntries(root: string): string[] {
  return readdirSync(path.join(root, 'workflows'))
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.test.ts'))
    .map((name) => `workflows/${name}`);
}

describe('workflow code reaches no Node built-in and no side-effect folder (activities, ai, plugins, client, api, workers, cli) at run time', () => {
  it('finds nothing forbidden reachable from workflows/index.ts and every workflows/*.ts', () => {
    const entries = workflowEntries(ROOT);
    assert.ok(entries.includes('workflows/index.ts'), 'workflows/index.ts is the bundle entry');
    const findings = findWorkflowImportProblems(ROOT, entries, FORBIDDEN);
    assert.equal(findings.length, 0, `workflow code reaches:\n${describeFindings(findings)}`);
  });
});

describe('the workflow import walk (on a fixture tree)', () => {
  let root: string;
  const write = (file: string, text: string): void => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  };

  before(() => {
    root = mkdtempSync(path.join(tmpdir(), 'qubinode-workflow-imports-'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('reports a pure-looking module two steps away that imports node:fs, with the chain of files', () => {
    write('workflows/index.ts', "export * from './run';\n");
    write('workflows/run.ts', "import { parse } from '../dag-repos/schema/pure';\nexport const run = () => parse('x');\n");
    write('dag-repos/schema/pure.ts', "import { readFileSync } from 'node:fs';\nexport const parse = (p: string) => readFileSync(p, 'utf8');\n");
    const findings = findWorkflowImportProblems(root, ['workflows/index.ts'], FORBIDDEN);
    assert.deepEqual(findings, [{ kind: 'node-builtin', chain: ['workflows/index.ts', 'workflows/run.ts', 'dag-repos/schema/pure.ts', 'node:fs'] }]);
    assert.match(describeFindings(findings), /workflows\/index\.ts -> workflows\/run\.ts -> dag-repos\/schema\/pure\.ts -> node:fs/);
  });

  it('reports a bare built-in, a subpath built-in, a require() and a dynamic import()', () => {
    write('workflows/bare.ts', "import { spawn } from 'child_process';\nimport { readFile } from 'fs/promises';\nconst os = require('os');\nexport const later = () => import('net');\nexport { spawn, readFile, os };\n");
    const findings = findWorkflowImportProblems(root, ['workflows/bare.ts'], FORBIDDEN);
    assert.deepEqual(findings.map((finding) => finding.chain.at(-1)).sort(), ['child_process', 'fs/promises', 'net', 'os']);
  });

  it('reports a runtime import of an activity behind a re-export, and passes a type-only one', () => {
    write('activities/shell.ts', "import { execFile } from 'node:child_process';\nexport interface ShellResult { code: number }\nexport const shell = execFile;\n");
    write('dag-repos/actions/types.ts', "export type { ShellResult } from '../../activities/shell';\nexport * as impl from '../../activities/shell';\n");
    write('workflows/typed.ts', "import type { ShellResult } from '../activities/shell';\nimport { type ShellResult as Again } from '../activities/shell';\nexport type Both = ShellResult | Again;\n");
    write('workflows/leaky.ts', "import * as actions from '../dag-repos/actions/types';\nexport const leak = actions;\n");
    assert.deepEqual(findWorkflowImportProblems(root, ['workflows/typed.ts'], FORBIDDEN), []);
    assert.deepEqual(findWorkflowImportProblems(root, ['workflows/leaky.ts'], FORBIDDEN), [
      { kind: 'forbidden-folder', chain: ['workflows/leaky.ts', 'dag-repos/actions/types.ts', 'activities/shell.ts'] },
    ]);
  });

  it('reports a side-effect import of the client and walks an import cycle once', () => {
    write('client/connect.ts', 'export {};\n');
    write('workflows/a.ts', "import './b';\nexport const a = 1;\n");
    write('workflows/b.ts', "import { a } from './a';\nimport '../client/connect';\nexport const b = a;\n");
    assert.deepEqual(findWorkflowImportProblems(root, ['workflows/a.ts'], FORBIDDEN), [
      { kind: 'forbidden-folder', chain: ['workflows/a.ts', 'workflows/b.ts', 'client/connect.ts'] },
    ]);
  });

  it('does not mistake look-alike names for built-ins, nor type positions for imports', () => {
    assert.equal(isNodeBuiltin('fsx'), false);
    assert.equal(isNodeBuiltin('./fs'), false);
    assert.equal(isNodeBuiltin('node:test'), true);
    assert.deepEqual(moduleImports('x.ts', "export type Fs = typeof import('node:fs');\nconst s = 'require(\"fs\")';\n"), []);
  });
});
