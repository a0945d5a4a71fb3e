import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { checkDagFile } from '../dag-repos/compiler/compile';
import { formatDiagnostic } from '../dag-repos/compiler/diagnostics';
import { matchesAny } from '../dag-repos/schema/globs';
import type { ParamSpec } from '../dag-repos/schema/dag-spec';
import { MAX_PATTERN_LENGTH } from '../dag-repos/schema/linear-regex';
import { checkParamValue, MAX_PARAM_DEPTH, ParamValidationError, resolveParams } from '../dag-repos/schema/params';
import { DANGEROUS_COMMANDS } from '../dag-repos/security/rules';
import { scanDagText } from '../dag-repos/security/scanner';
import { startTestEngine, type TestEngine } from './support/engine';
import { taskOf } from './support/waiting';

// Patterns and globs come from DAG authors, values from callers and forges. With a backtracking
// engine these inputs take minutes (or years); on RE2 they return at once. No timing is asserted:
// on a backtracking engine these tests never finish, and the runner's time limit fails them.

const registry = new ActionRegistry();
const NESTED_QUANTIFIER = '([a-z0-9]+-?)+';
const hostileName = (length: number): string => `${'a'.repeat(length)}!`;
const patternParam = (pattern: string): ParamSpec => ({ type: 'string', required: false, secret: false, pattern });

function check(text: string) {
  return checkDagFile({ repo: 'test', path: 'dags/patterns.yaml', commit: 'test', text }, { registry });
}

function dagWithPattern(pattern: string): string {
  return `id: patterns
params:
  name:
    type: string
    pattern: ${JSON.stringify(pattern)}
tasks:
  - id: hello
    uses: noop
`;
}

describe('param patterns run in linear time', () => {
  it('refuses a value that does not match a nested-quantifier pattern, for thirty characters and for a hundred thousand', () => {
    assert.equal(checkParamValue(patternParam(NESTED_QUANTIFIER), hostileName(30)), `must match /${NESTED_QUANTIFIER}/, got "${hostileName(30)}"`);
    assert.equal(checkParamValue(patternParam(NESTED_QUANTIFIER), hostileName(100_000)), `must match /${NESTED_QUANTIFIER}/, got "${'a'.repeat(40)}…"`);
    assert.equal(checkParamValue(patternParam(NESTED_QUANTIFIER), 'web-01-east'), undefined, 'a matching value still passes');
  });

  it('still matches the whole value, alternatives included, as before', () => {
    const spec = patternParam('a|ab');
    assert.equal(checkParamValue(spec, 'ab'), undefined);
    assert.match(checkParamValue(spec, 'abc') ?? '', /must match/);
    assert.match(checkParamValue(patternParam('[a-z]+'), 'x web') ?? '', /must match/, 'the pattern is anchored at both ends');
  });

  it('refuses at compile time a pattern that needs backtracking (lookaround, backreferences), naming file:line:col and the field', () => {
    for (const pattern of ['(?=admin)[a-z]+', '(a+)\\1', '(?<!x)y']) {
      const { dag, diagnostics } = check(dagWithPattern(pattern));
      assert.equal(dag, undefined, pattern);
      const [first] = diagnostics.map(formatDiagnostic);
      assert.match(first ?? '', /^dags\/patterns\.yaml:5:14 params\.name\.pattern: invalid regular expression \/.*\/: .*/, pattern);
      assert.match(first ?? '', /RE2 syntax, which always matches in linear time/, pattern);
    }
  });

  it(`refuses a pattern longer than ${MAX_PATTERN_LENGTH} characters`, () => {
    const { diagnostics } = check(dagWithPattern('a'.repeat(MAX_PATTERN_LENGTH + 1)));
    assert.match(diagnostics.map(formatDiagnostic).join('\n'), /5:14 params\.name\.pattern: invalid regular expression \/a{80}…\/: longer than 1000 characters$/);
  });

  it('accepts the nested-quantifier pattern itself: it is safe on RE2, so authors need not rewrite it', () => {
    const { dag, diagnostics } = check(dagWithPattern(NESTED_QUANTIFIER));
    assert.deepEqual(diagnostics, []);
    assert.ok(dag);
  });

  it('refuses, without throwing, a value checked against a pattern that was never compiled (a DAG pinned before the check)', () => {
    assert.match(checkParamValue(patternParam('(?=a)a'), 'a') ?? '', /^cannot be checked: invalid regular expression/);
  });

  it(`refuses an object param nested deeper than ${MAX_PARAM_DEPTH} levels, even a hundred thousand deep`, () => {
    let deep: Record<string, unknown> = {};
    for (let level = 0; level < 100_000; level += 1) deep = { next: deep };
    const spec: ParamSpec = { type: 'object', required: false, secret: false };
    assert.equal(checkParamValue(spec, deep), `nested deeper than ${MAX_PARAM_DEPTH} levels`);
    assert.throws(() => resolveParams({ labels: spec }, { labels: deep }), ParamValidationError);
    assert.equal(checkParamValue(spec, { a: { b: { c: 1 } } }), undefined);
  });
});

describe('trigger globs run in linear time', () => {
  it('matches branch and path globs as documented', () => {
    assert.ok(matchesAny('release/1.0', ['release/*']));
    assert.ok(!matchesAny('release/1/2', ['release/*']), '* stays within a segment');
    assert.ok(matchesAny('docs/a/b/c.md', ['docs/**']));
    assert.ok(matchesAny('dags/vm.yaml', ['**/*.yaml']));
    assert.ok(matchesAny('v1', ['v?']) && !matchesAny('v10', ['v?']));
    assert.ok(matchesAny('a+b(c).txt', ['a+b(c).txt']), 'regex characters in a glob are literal');
    assert.ok(!matchesAny('aXbc', ['a.bc']));
  });

  it('returns for a many-star glob against a long hostile path', () => {
    const glob = `${'*a'.repeat(12)}*b`;
    assert.equal(matchesAny('a'.repeat(50_000), [glob]), false);
    assert.equal(matchesAny(`${'a'.repeat(50_000)}b`, [glob]), true);
    assert.equal(matchesAny(`${'x/'.repeat(20_000)}c`, ['**/**/**/**/**/**/**/b']), false);
  });

  it('refuses at compile time a glob longer than 256 characters, with its location', () => {
    const { diagnostics } = check(`id: globs
on:
  push:
    paths: [${JSON.stringify('x'.repeat(257))}]
tasks:
  - id: hello
    uses: noop
`);
    assert.match(diagnostics.map(formatDiagnostic).join('\n'), /^dags\/patterns\.yaml:4:13 on\.push\.paths\[0\]: .*<=256 characters$/m);
  });
});

describe('the security scanner runs in linear time', () => {
  it('scans a script built to make the rm rule backtrack, and still flags rm -rf /', () => {
    const hostile = `rm -${'r'.repeat(200_000)}x ${'-r '.repeat(5_000)}`;
    const spec = (script: string) => ({ id: 's', tasks: [{ id: 't', uses: 'shell', with: { script } }] });
    const text = (script: string) => `id: s\ntasks:\n  - id: t\n    uses: shell\n    with:\n      script: ${JSON.stringify(script)}\n`;
    const quiet = scanDagText({ path: 'dags/s.yaml', text: text(hostile) }, spec(hostile) as never);
    assert.deepEqual(quiet.filter((finding) => finding.rule === 'dangerous-command'), []);
    const loud = scanDagText({ path: 'dags/s.yaml', text: text('rm -rf /') }, spec('rm -rf /') as never);
    assert.deepEqual(loud.map((finding) => finding.rule), ['dangerous-command']);
    assert.ok(DANGEROUS_COMMANDS.every((rule) => !(rule.pattern instanceof RegExp)), 'every dangerous-command rule is a linear-time pattern');
  });
});

describe('a sub-DAG call checks params inside the workflow on RE2', () => {
  let engine: TestEngine;
  before(async () => {
    engine = await startTestEngine();
  });
  after(async () => engine.close());

  it('fails the calling task with ParamValidationError for a long hostile value instead of stalling the workflow', async () => {
    const child = `
id: named
params:
  name: { type: string, required: true, pattern: ${JSON.stringify(NESTED_QUANTIFIER)} }
tasks:
  - { id: hello, uses: noop }
`;
    const dag = engine.compile(
      `
id: caller
params:
  name: { type: string }
tasks:
  - { id: call, uses: dag, with: { dag: named, params: { name: "\${{ params.name }}" } } }
`,
      { named: child },
    );
    const status = await engine.run(dag, { name: hostileName(50_000) });
    assert.equal(status.state, 'failed');
    const call = taskOf(status, 'call');
    assert.equal(call.error?.type, 'ParamValidationError');
    assert.match(call.error?.message ?? '', /param name: must match \/\(\[a-z0-9\]\+-\?\)\+\//);
  });
});
