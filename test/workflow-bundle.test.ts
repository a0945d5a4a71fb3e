import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../config/config';
import { SourceMapConsumer, type RawSourceMap } from 'source-map';
import { buildWorkflowBundle, INLINE_SOURCE_MAP_MARKER, workflowBundle, WorkflowBundleError, workflowSourceHash, type WorkflowBundleOptions } from '../workers/workflow-bundle';
import { testWorkflowBundle } from './support/workflow-bundle';

// Small source trees of their own, so each build takes a few seconds rather than the product's ~8. They live
// under the project so the bundler finds @temporalio/workflow in its node_modules.
const scratch = path.join(PROJECT_ROOT, '.data', 'test', `workflow-bundle-${randomBytes(4).toString('hex')}`);
after(() => rmSync(scratch, { recursive: true, force: true }));

let trees = 0;
/** A source tree with a workflows folder holding `files`, and an empty data directory. */
function sourceTree(files: Record<string, string>, name = `tree-${++trees}`): Required<Pick<WorkflowBundleOptions, 'dataDir' | 'workflowsPath' | 'sourceRoot'>> {
  const sourceRoot = path.join(scratch, name);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(sourceRoot, 'workflows', file)), { recursive: true });
    writeFileSync(path.join(sourceRoot, 'workflows', file), text);
  }
  return { sourceRoot, workflowsPath: path.join(sourceRoot, 'workflows', 'index.ts'), dataDir: path.join(sourceRoot, 'data') };
}

const greeting = (word: string) => `export async function greet(name: string): Promise<string> {\n  return \`${word} \${name}\`;\n}\n`;

function bundleFiles(dataDir: string): string[] {
  return readdirSync(path.join(dataDir, 'workflow-bundles')).sort();
}

describe('the workers’ workflow bundle', () => {
  it('builds once for two workers starting together and reuses the cached file on the next start', async () => {
    const tree = sourceTree({ 'index.ts': greeting('hello') });
    const first = workflowBundle(tree);
    assert.equal(workflowBundle(tree), first, 'the audit worker shares the main worker’s build');
    const built = await first;
    assert.equal(built.built, true);
    assert.equal(path.dirname(built.codePath), path.join(tree.dataDir, 'workflow-bundles'));
    assert.match(readFileSync(built.codePath, 'utf8'), /hello /);
    assert.deepEqual(bundleFiles(tree.dataDir), [path.basename(built.codePath)], 'one bundle and no temp file left');

    const again = await buildWorkflowBundle(tree);
    assert.deepEqual(again, { codePath: built.codePath, built: false });
  });

  it('builds a new bundle when a workflow source changes, and keeps only the newest few', async () => {
    const tree = sourceTree({ 'index.ts': greeting('hello') });
    const before = workflowSourceHash(tree.workflowsPath, tree.sourceRoot);
    writeFileSync(path.join(tree.sourceRoot, 'workflows', 'index.ts'), greeting('goodbye'));
    const changed = workflowSourceHash(tree.workflowsPath, tree.sourceRoot);
    assert.notEqual(changed, before);
    writeFileSync(path.join(tree.sourceRoot, 'workflows', 'helper.js'), 'export const unused = 1;\n');
    const withHelper = workflowSourceHash(tree.workflowsPath, tree.sourceRoot);
    assert.notEqual(withHelper, changed, 'a compiled .js file counts as a source too');
    writeFileSync(path.join(tree.sourceRoot, 'workflows', 'index.test.ts'), 'export {};\n');
    assert.equal(workflowSourceHash(tree.workflowsPath, tree.sourceRoot), withHelper, 'tests are never bundled');

    // Bundles of earlier sources, oldest first.
    const directory = path.join(tree.dataDir, 'workflow-bundles');
    mkdirSync(directory, { recursive: true });
    const earlier = ['a', 'b', 'c', 'd'].map((name, index) => {
      const file = path.join(directory, `${name}.js`);
      writeFileSync(file, '// earlier\n');
      const when = new Date(Date.now() - (10 - index) * 60_000);
      utimesSync(file, when, when);
      return path.basename(file);
    });
    const built = await buildWorkflowBundle(tree);
    assert.equal(path.basename(built.codePath), `${workflowSourceHash(tree.workflowsPath, tree.sourceRoot)}.js`);
    assert.match(readFileSync(built.codePath, 'utf8'), /goodbye /);
    assert.deepEqual(bundleFiles(tree.dataDir), [...earlier.slice(-2), path.basename(built.codePath)].sort());
  });

  it('never uses a half-written temp file, and removes one a dead build left long ago', async () => {
    const tree = sourceTree({ 'index.ts': greeting('hello') });
    const directory = path.join(tree.dataDir, 'workflow-bundles');
    const hash = workflowSourceHash(tree.workflowsPath, tree.sourceRoot);
    mkdirSync(directory, { recursive: true });
    const inProgress = path.join(directory, `${hash}.js.4242-0badc0de.tmp`);
    const dead = path.join(directory, `${hash}.js.4243-deadbeef.tmp`);
    for (const file of [inProgress, dead]) writeFileSync(file, '/* half a bundle: (function(){ var x = ');
    const longAgo = new Date(Date.now() - 24 * 60 * 60_000);
    utimesSync(dead, longAgo, longAgo);

    const built = await buildWorkflowBundle(tree);
    assert.equal(built.built, true);
    assert.equal(built.codePath, path.join(directory, `${hash}.js`));
    assert.match(readFileSync(built.codePath, 'utf8'), /hello /);
    assert.ok(existsSync(inProgress), 'another process may still be writing a recent temp file');
    assert.ok(!existsSync(dead));
  });

  it('fails with the bundler’s message naming the file when a workflow source does not compile, and caches nothing', async () => {
    const tree = sourceTree({ 'index.ts': "export { greet } from './broken';\n", 'broken.ts': 'export async function greet( {\n' });
    const attempt = workflowBundle(tree);
    const failure = await attempt.then(
      () => assert.fail('a broken workflow source must not bundle'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof WorkflowBundleError);
    assert.match(failure.message, /broken\.ts/);
    assert.match(failure.message, /Webpack finished with errors/);
    assert.doesNotMatch(failure.message, /modules by path|Stack backtrace/, 'the error, not webpack’s module listing');
    assert.deepEqual(bundleFiles(tree.dataDir), [], 'no bundle and no temp file');

    // Once the source is mended, the next start builds rather than repeating the failure.
    writeFileSync(path.join(tree.sourceRoot, 'workflows', 'broken.ts'), greeting('mended'));
    const retry = workflowBundle(tree);
    assert.notEqual(retry, attempt);
    assert.match(readFileSync((await retry).codePath, 'utf8'), /mended /);
  });

  it('keeps the inline source map\'s mappings, so workflow stack traces name the .ts line, but not the sources\' text each workflow thread would hold', async () => {
    const tree = sourceTree({ 'index.ts': `${greeting('mapped')}export const marker = 'find-me-in-the-bundle';\n` });
    const code = readFileSync((await buildWorkflowBundle(tree)).codePath, 'utf8');
    const at = code.lastIndexOf(INLINE_SOURCE_MAP_MARKER);
    assert.ok(at > 0, 'the SDK refuses a bundle without an inline source map');
    const map = JSON.parse(Buffer.from(code.slice(at + INLINE_SOURCE_MAP_MARKER.length), 'base64').toString('utf8')) as RawSourceMap & { sourcesContent?: unknown };
    assert.equal(map.sourcesContent, undefined);
    const lines = code.slice(0, at).split('\n');
    const line = lines.findIndex((text) => text.includes('find-me-in-the-bundle')) + 1;
    const original = await SourceMapConsumer.with(map, null, (consumer) => consumer.originalPositionFor({ line, column: lines[line - 1]?.indexOf('find-me') ?? 0 }));
    assert.match(original.source ?? '', /workflows\/index\.ts$/);
    assert.equal(original.line, 4);
  });

  it('passes paths with shell syntax, quotes and a leading dash to the bundler as plain argv', async () => {
    const canary = path.join(scratch, 'canary');
    const tree = sourceTree({ 'index.ts': greeting('hostile') }, `-e x $(touch ${canary}) \`touch ${canary}\`; ' "`);
    const built = await buildWorkflowBundle(tree);
    assert.match(readFileSync(built.codePath, 'utf8'), /hostile /);
    assert.ok(!existsSync(canary), 'no part of a path ran as code');
  });

  it('gives the tests the same cached bundle the product builds from the same sources', async () => {
    const { code } = await testWorkflowBundle();
    const product = await buildWorkflowBundle({ dataDir: path.join(PROJECT_ROOT, '.data', 'test'), workflowsPath: path.join(PROJECT_ROOT, 'workflows', 'index.ts') });
    assert.equal(product.built, false);
    assert.equal(readFileSync(product.codePath, 'utf8'), code);
    assert.match(code, /dagRun/);
  });

  it('leaves parsers the workflows never call out of the product\'s bundle: no YAML library in any workflow thread', async () => {
    const { code } = await testWorkflowBundle();
    assert.doesNotMatch(code, /node_modules\/yaml\//);
  });
});
