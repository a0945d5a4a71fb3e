import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { z } from 'zod';
import { checkCommitTree } from '../activities/platform/git-sync';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { checkDagPath } from '../dag-repos/catalog/dag-file';
import { readDagFileText } from '../dag-repos/catalog/catalog-file';
import { LocalCatalog } from '../dag-repos/catalog/local-catalog';
import { checkDagFile, MAX_SUB_DAG_DEPTH, type DagFile } from '../dag-repos/compiler/compile';
import { formatDiagnostic, type DiagnosticCode } from '../dag-repos/compiler/diagnostics';
import { DAG_FILE_LIMITS } from '../dag-repos/compiler/parse-limits';
import { RepoConfig } from '../dag-repos/schema/repo-config';

// DAG files come from pushed repositories. Every input here is built to crash, hang or exhaust a
// naive YAML reader or compiler; each must come back as `file:line:col message`, and one such file
// must never take the other DAGs of its directory down with it.

const registry = new ActionRegistry();
const GOOD = 'id: good\ntasks:\n  - id: hello\n    uses: noop\n';
const TASKS = 'tasks:\n  - id: hello\n    uses: noop\n';
const KiB = 1024;

function withValue(value: string): string {
  return `id: hostile\ntasks:\n  - id: hello\n    uses: noop\n    with: { x: ${value} }\n`;
}

function aliasBomb(): string {
  const lines = ['id: bomb', 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let level = 1; level < 9; level += 1) lines.push(`a${level}: &a${level} [${Array.from({ length: 10 }, () => `*a${level - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\n${TASKS}`;
}

// Each alias nests a 40-deep value inside the previous one: shallow as written, 200 deep once expanded.
function aliasDepthChain(): string {
  const lines = ['id: chain', `c0: &c0 ${'['.repeat(40)}${']'.repeat(40)}`];
  for (let level = 1; level < 5; level += 1) lines.push(`c${level}: &c${level} ${'['.repeat(40)}*c${level - 1}${']'.repeat(40)}`);
  return `${lines.join('\n')}\n${TASKS}`;
}

interface Hostile {
  name: string;
  text: () => string;
  code: DiagnosticCode;
  at: string;
  message: RegExp;
}

const HOSTILE: Hostile[] = [
  { name: '100,000 opening brackets', text: () => `id: deep\nx: ${'['.repeat(100_000)}`, code: 'file-limit', at: '2:69', message: /^nested more than 64 levels deep$/ },
  { name: '100,000 nested flow mappings', text: () => `id: deep\nx: ${'{a: '.repeat(100_000)}`, code: 'file-limit', at: '2:', message: /^nested more than 64 levels deep$/ },
  { name: 'a block mapping nested by indentation 1,200 levels', text: () => `id: deep\nx:\n${Array.from({ length: 1_200 }, (_, level) => `${' '.repeat(level + 1)}k:`).join('\n')} v\n`, code: 'file-limit', at: '', message: /^nested more than 64 levels deep$/ },
  { name: '50,000 compact sequence indicators on one line', text: () => `id: deep\nx:\n  ${'- '.repeat(50_000)}x\n`, code: 'file-limit', at: '3:', message: /^nested more than 64 levels deep$/ },
  { name: 'a text over the size limit', text: () => `id: big\n# ${'x'.repeat(DAG_FILE_LIMITS.maxBytes)}\n${TASKS}`, code: 'file-limit', at: '1:1', message: /^file is \d+ bytes; DAG files are limited to 1 MiB/ },
  { name: 'a flow list of 200,000 items', text: () => `id: wide\nx: [${'1,'.repeat(200_000)}]\n${TASKS}`, code: 'file-limit', at: '2:', message: /^more than 100000 YAML tokens/ },
  { name: 'a flow list of 30,000 items, under the token limit', text: () => `id: wide\nx: [${'1,'.repeat(30_000)}]\n${TASKS}`, code: 'schema', at: '2:1', message: /unknown field "x"/ },
  { name: 'a 200 KiB string', text: () => `id: long\ndescription: "${'x'.repeat(200 * KiB)}"\n${TASKS}`, code: 'file-limit', at: '2:14', message: /^string of 204800 characters; strings are limited to 131072/ },
  { name: 'an alias bomb (billion laughs)', text: aliasBomb, code: 'file-limit', at: '3:10', message: /^YAML aliases expand to more than 100 values/ },
  { name: 'an alias that contains itself', text: () => `id: loop\nx: &x [ *x ]\n${TASKS}`, code: 'file-limit', at: '2:9', message: /^nested more than 64 levels deep once aliases are expanded$/ },
  { name: 'aliases that nest 200 levels once expanded', text: aliasDepthChain, code: 'file-limit', at: '3:', message: /once aliases are expanded$/ },
  { name: 'a !!js/function tag', text: () => withValue('!!js/function "function () { require(\'child_process\') }"'), code: 'yaml-tag', at: '5:16', message: /^YAML tag "!!js\/function" is not allowed/ },
  { name: 'a custom tag', text: () => `id: tagged\nlabels: { a: !vault secret/x }\n${TASKS}`, code: 'yaml-tag', at: '2:14', message: /^YAML tag "!vault" is not allowed/ },
  { name: 'binary garbage with NUL bytes', text: () => `\u0000\u0001\u0002ELF\u0000${'\u00ff'.repeat(40)}`, code: 'encoding', at: '1:1', message: /^control character U\+0000 is not allowed in YAML; is this a binary file\?$/ },
  { name: 'a C1 control character', text: () => `id: c1\ndescription: "a\u0085b\u0090"\n${TASKS}`, code: 'encoding', at: '2:18', message: /U\+0090/ },
  { name: 'a lone surrogate', text: () => `id: s\ndescription: "\ud800"\n${TASKS}`, code: 'encoding', at: '2:15', message: /U\+D800/ },
  { name: '10,000 keys with one repeated (the pairwise check compared fifty million pairs)', text: () => `id: keys\nlabels:\n${Array.from({ length: 10_000 }, (_, index) => `  k${index}: v`).join('\n')}\n  k7: again\n${TASKS}`, code: 'yaml-syntax', at: '10003:3', message: /Map keys must be unique \("k7" appears twice\)/ },
  { name: '100,000 negations in an expression', text: () => withValue(`"\${{ ${'!'.repeat(100_000)}true }}"`), code: 'expression-syntax', at: '5:16', message: /expression nested more than 100 levels deep/ },
  { name: '100,000 opening parentheses in an expression', text: () => withValue(`"\${{ ${'('.repeat(100_000)}1 }}"`), code: 'expression-syntax', at: '5:16', message: /expression nested more than 100 levels deep/ },
  { name: 'a chain of 30,000 additions', text: () => withValue(`"\${{ 1${' + 1'.repeat(30_000)} }}"`), code: 'expression-syntax', at: '5:16', message: /expression nested more than 100 levels deep/ },
  { name: 'a chain of 30,000 member reads', text: () => withValue(`"\${{ params${'.a'.repeat(30_000)} }}"`), code: 'expression-syntax', at: '5:16', message: /expression nested more than 100 levels deep/ },
];

describe('a hostile DAG text is a located diagnostic, never a crash', () => {
  for (const hostile of HOSTILE) {
    it(`reports ${hostile.name} as ${hostile.code} with its location`, () => {
      const result = checkDagFile({ repo: 'test', path: 'dags/hostile.yaml', commit: 'test', text: hostile.text() }, { registry });
      assert.equal(result.dag, undefined);
      const [first] = result.diagnostics;
      assert.ok(first, 'at least one diagnostic');
      assert.equal(first.code, hostile.code, formatDiagnostic(first).slice(0, 300));
      assert.ok(formatDiagnostic(first).startsWith(`dags/hostile.yaml:${hostile.at}`), `${formatDiagnostic(first).slice(0, 120)} should start at ${hostile.at}`);
      assert.match(first.message, hostile.message);
      assert.ok(first.message.length < 400, 'the message quotes no more than an excerpt');
    });
  }

  it('still accepts anchors and aliases used the ordinary way, and the core tags', () => {
    const text = `id: anchors
params:
  host: { type: string, default: !!str hv-01 }
tasks:
  - { id: first, uses: noop, with: &common { retries: 3, zone: a } }
  - { id: second, uses: noop, needs: first, with: *common }
`;
    const result = checkDagFile({ repo: 'test', path: 'dags/anchors.yaml', commit: 'test', text }, { registry });
    assert.deepEqual(result.diagnostics.map(formatDiagnostic), []);
    assert.deepEqual(result.dag?.tasks[1]?.with, { retries: 3, zone: 'a' });
  });
});

/** `count` DAGs where each calls the next `fanOut` times; returns the first and a resolver that counts its calls. */
function callChain(count: number, fanOut: number): { first: DagFile; resolveDag: (ref: string) => DagFile | undefined; resolved: () => number } {
  const files = new Map<string, DagFile>();
  for (let index = 0; index < count; index += 1) {
    const calls = index + 1 < count ? Array.from({ length: fanOut }, (_, call) => `  - { id: call${call}, uses: dag, with: { dag: d${index + 1} } }`) : ['  - { id: leaf, uses: noop }'];
    files.set(`chain/d${index}`, { repo: 'chain', path: `dags/d${index}.yaml`, commit: 'test', text: `id: d${index}\ntasks:\n${calls.join('\n')}\n` });
  }
  let resolved = 0;
  return {
    first: files.get('chain/d0') as DagFile,
    resolveDag: (ref) => {
      resolved += 1;
      return files.get(ref);
    },
    resolved: () => resolved,
  };
}

describe('sub-DAG calls are bounded in depth and compiled once each', () => {
  it(`refuses a line of 3,000 DAGs calling one another at ${MAX_SUB_DAG_DEPTH} levels instead of overflowing the stack`, () => {
    const chain = callChain(3_000, 1);
    const result = checkDagFile(chain.first, { registry, resolveDag: chain.resolveDag });
    assert.equal(result.dag, undefined);
    assert.match(result.diagnostics.map(formatDiagnostic).join('\n'), /sub-DAG calls nested more than 16 deep \(chain\/d0 -> … -> chain\/d17\)/);
    assert.ok(chain.resolved() <= MAX_SUB_DAG_DEPTH + 1, `resolved ${chain.resolved()} DAGs`);
  });

  it('compiles DAGs that each call the next one twice, 14 levels deep, resolving each call once instead of 2^14 times', () => {
    const chain = callChain(14, 2);
    const result = checkDagFile(chain.first, { registry, resolveDag: chain.resolveDag });
    assert.deepEqual(result.diagnostics, []);
    assert.ok(result.dag?.children['chain/d1']);
    assert.equal(chain.resolved(), 13 * 2);
  });
});

describe('DAG files are read by size first and as strict UTF-8', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'qubinode-hostile-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const file = (name: string, content: string | Buffer): string => {
    const target = path.join(dir, name);
    writeFileSync(target, content);
    return target;
  };

  it('refuses a file larger than 1 MiB from its size alone', () => {
    const huge = file('huge.yaml', GOOD);
    truncateSync(huge, 64 * 1024 * 1024); // sparse: the size says 64 MiB, nothing of it is ever read
    const read = readDagFileText(huge, 'dags/huge.yaml');
    assert.equal(read.ok, false);
    assert.equal(read.ok ? '' : formatDiagnostic(read.diagnostic), `dags/huge.yaml:1:1 file is ${64 * 1024 * 1024} bytes; DAG files are limited to 1 MiB (move long scripts or data into files of the repository)`);
  });

  it('points at the first byte that is not UTF-8 instead of replacing it', () => {
    const bad = file('latin1.yaml', Buffer.concat([Buffer.from('id: latin\ndescription: caf'), Buffer.from([0xe9]), Buffer.from('\ntasks: []\n')]));
    const read = readDagFileText(bad, 'dags/latin1.yaml');
    assert.equal(read.ok ? '' : formatDiagnostic(read.diagnostic), 'dags/latin1.yaml:2:17 invalid UTF-8 (byte 0xe9); DAG files are UTF-8 text');
    for (const bytes of [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]) {
      const sneaky = file('sneaky.yaml', Buffer.concat([Buffer.from('id: x\n'), Buffer.from(bytes)]));
      const result = readDagFileText(sneaky, 'dags/sneaky.yaml');
      assert.equal(result.ok ? '' : result.diagnostic.code, 'encoding', `bytes ${bytes.map((byte) => byte.toString(16)).join(' ')} are not UTF-8`);
    }
  });

  it('reads multi-byte UTF-8 as it is', () => {
    const fine = file('accents.yaml', 'id: accents\ndescription: café 🚀 Größe\ntasks: [{ id: hello, uses: noop }]\n');
    const read = readDagFileText(fine, 'dags/accents.yaml');
    assert.ok(read.ok);
    assert.equal(checkDagPath(fine, { registry }).dag?.description, 'café 🚀 Größe');
  });

  it('reports a file that is gone or unreadable as that file\'s diagnostic', () => {
    const read = readDagFileText(path.join(dir, 'missing.yaml'), 'dags/missing.yaml');
    assert.equal(read.ok ? '' : formatDiagnostic(read.diagnostic), 'dags/missing.yaml:1:1 cannot read the file (ENOENT)');
  });
});

/** One good DAG beside one file of every hostile kind. */
function hostileDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'good.yaml'), GOOD);
  writeFileSync(path.join(dir, 'bomb.yaml'), aliasBomb());
  writeFileSync(path.join(dir, 'deep.yaml'), `id: deep\nx: ${'['.repeat(100_000)}\n`);
  writeFileSync(path.join(dir, 'garbage.yaml'), Buffer.from(Array.from({ length: 4096 }, (_, index) => (index * 7919 + 13) % 256)));
  writeFileSync(path.join(dir, 'tagged.yaml'), `id: tagged\nx: !!js/function "f"\n${TASKS}`);
  writeFileSync(path.join(dir, 'huge.yaml'), GOOD);
  truncateSync(path.join(dir, 'huge.yaml'), 8 * 1024 * 1024);
}

const BAD_FILES: Record<string, DiagnosticCode> = {
  'bomb.yaml': 'file-limit',
  'deep.yaml': 'file-limit',
  'garbage.yaml': 'encoding',
  'huge.yaml': 'file-limit',
  'tagged.yaml': 'yaml-tag',
};

describe('one bad file never takes its directory down', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'qubinode-hostile-dir-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  hostileDirectory(path.join(root, 'dags'));

  it('lists the good DAG of a local directory and reports every bad file with its diagnostic', () => {
    const catalog = LocalCatalog.load([{ repo: 'local', dir: root }], registry);
    const entries = catalog.list();
    const good = catalog.get('local/good');
    assert.equal(good.valid, true);
    assert.ok(good.dag);
    const bad = entries.filter((entry) => !entry.valid);
    assert.deepEqual(Object.fromEntries(bad.map((entry) => [path.basename(entry.path), entry.diagnostics[0]?.code])), BAD_FILES);
    for (const entry of bad) assert.ok(formatDiagnostic(entry.diagnostics[0] as never).startsWith(`${entry.path}:`), 'each diagnostic names its file');
  });

  it('compiles the good DAG of a repository commit and lists every bad file among the sync errors', () => {
    const config = RepoConfig.parse({ name: 'hostile', url: 'https://git.example.invalid/hostile.git', path: 'dags' });
    const result = checkCommitTree(root, config, 'c'.repeat(40), registry);
    assert.deepEqual(result.dags.map((dag) => dag.catalogId), ['hostile/good']);
    const byFile = Object.fromEntries(result.errors.map((error) => [path.basename(error.file), error.problems.join('\n')]));
    assert.deepEqual(Object.keys(byFile).sort(), Object.keys(BAD_FILES).sort());
    for (const [name, code] of Object.entries(BAD_FILES)) {
      assert.match(byFile[name] ?? '', new RegExp(`^dags/${name.replace('.', '\\.')}:\\d+:\\d+ `), `${name} is reported with its location (${code})`);
    }
    assert.match(byFile['huge.yaml'] ?? '', /limited to 1 MiB/);
    assert.match(byFile['bomb.yaml'] ?? '', /alias bomb/);
  });
});

describe('a compiler failure on one file stays that file\'s problem', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'qubinode-buggy-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('lists the other DAGs when a plugin action\'s input check throws instead of reporting', () => {
    // A plugin's schema is code the compiler calls; a bug in it must not end the listing.
    const buggy = registry.extend([
      {
        name: 'buggy.action',
        description: 'throws while checking its input',
        input: z.object({}).passthrough().superRefine(() => {
          throw new TypeError('plugin bug');
        }),
        execution: { kind: 'activity', activity: 'noop' } as never,
        nonRetryableErrors: [],
        defaultTimeoutMs: 1000,
      },
    ]);
    writeFileSync(path.join(root, 'good.yaml'), GOOD);
    writeFileSync(path.join(root, 'uses-buggy.yaml'), 'id: uses-buggy\ntasks:\n  - id: t\n    uses: buggy.action\n');
    const catalog = LocalCatalog.load([{ repo: 'local', dir: root }], buggy);
    assert.equal(catalog.get('local/good').valid, true);
    const broken = catalog.get('local/uses-buggy');
    assert.equal(broken.valid, false);
    assert.equal(formatDiagnostic(broken.diagnostics[0] as never), 'uses-buggy.yaml:1:1 the compiler failed on this file (TypeError: plugin bug); please report it');
  });
});
