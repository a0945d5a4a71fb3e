import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import fc from 'fast-check';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { LocalCatalog } from '../dag-repos/catalog/local-catalog';
import { checkDagFile, type CheckResult, type CompileContext } from '../dag-repos/compiler/compile';
import { evaluateExpression, EXPRESSION_FUNCTIONS, ExpressionEvaluationError, ExpressionSyntaxError, parseExpression } from '../dag-repos/expressions';

// Property: whatever text a repository pushes, the compiler returns a result or located diagnostics;
// it never throws, and the expression language fails only with its own two error types. The seed is
// fixed so a run is repeatable; QUBINODE_FUZZ_SEED explores others, QUBINODE_FUZZ_RUNS runs more.

const SEED = Number(process.env.QUBINODE_FUZZ_SEED ?? 20_251_126);
const SCALE = Number(process.env.QUBINODE_FUZZ_RUNS ?? 1);
const runs = (count: number): number => Math.max(1, Math.round(count * SCALE));

const registry = new ActionRegistry();
const VALID_DIR = path.join(__dirname, 'fixtures', 'dags', 'valid');
const EXAMPLES_DIR = path.join(__dirname, '..', 'dag-repos', 'examples', 'dags');
// One repository holding the valid fixtures and the examples, so their `uses: dag` calls resolve.
const context: CompileContext = LocalCatalog.load([{ repo: 'fixtures', dir: VALID_DIR }, { repo: 'fixtures', dir: EXAMPLES_DIR }], registry).compileContext();
const SEEDS = [VALID_DIR, EXAMPLES_DIR].flatMap((dir) =>
  readdirSync(dir)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .map((name) => readFileSync(path.join(dir, name), 'utf8')),
);

let inputs = 0;

function compileChecked(text: string): CheckResult {
  inputs += 1;
  const result = checkDagFile({ repo: 'fixtures', path: 'dags/fuzz.yaml', commit: 'fuzz', text }, context);
  if (result.dag === undefined) assert.ok(result.diagnostics.length > 0, 'a refused file says why');
  for (const diagnostic of result.diagnostics) {
    assert.notEqual(diagnostic.code, 'internal');
    assert.ok(Number.isInteger(diagnostic.line) && diagnostic.line >= 1, `line ${diagnostic.line}`);
    assert.ok(Number.isInteger(diagnostic.column) && diagnostic.column >= 1, `column ${diagnostic.column}`);
    assert.equal(diagnostic.file, 'dags/fuzz.yaml');
    assert.equal(typeof diagnostic.message, 'string');
  }
  return result;
}

const YAML_PIECES = [
  'id: ', 'fuzz', 'tasks:', 'params:', 'on:', 'push:', 'paths: ', '\n', '\n  ', '\n    ', '  ', '- ', '[', ']', '{', '}', ', ', ': ',
  '&a ', '*a', '&b ', '*b', '!!str ', '!!int ', '!!binary ', '!x ', '!<tag:x> ', '"', "'", '\\', '|', '>-', '#', '${{', '}}', ' ',
  'uses: shell', 'uses: noop', 'uses: dag', 'uses: http.check', 'with:', 'script: ', 'needs: ', 'when: ', 'forEach: ', 'runsOn: ', 'retry: ',
  'timeout: ', 'pattern: ', '(a+)+', '(?=x)', 'type: string', 'default: ', 'dag: hello', 'compensate:', '1', '-1', '0x1F', '1e999', '.inf',
  'true', 'null', '~', 'é', '🚀', '\t', '\r', '\u0000', '\u0085', '---', '...', '? ', '%YAML 1.2\n', 'secret://env/X', '<<: *a',
];

const yamlish = fc.array(fc.constantFrom(...YAML_PIECES), { maxLength: 120 }).map((pieces) => pieces.join(''));

type Edit = { at: number; op: 'insert' | 'delete' | 'replace' | 'repeat'; piece: string; length: number };

function mutate(text: string, edits: readonly Edit[]): string {
  let out = text;
  for (const edit of edits) {
    const at = out.length === 0 ? 0 : edit.at % out.length;
    if (edit.op === 'insert') out = out.slice(0, at) + edit.piece + out.slice(at);
    else if (edit.op === 'delete') out = out.slice(0, at) + out.slice(at + edit.length);
    else if (edit.op === 'replace') out = out.slice(0, at) + edit.piece + out.slice(at + edit.length);
    else out = out.slice(0, at) + out.slice(at, at + edit.length).repeat(1 + (edit.length % 7)) + out.slice(at);
  }
  return out;
}

const edit: fc.Arbitrary<Edit> = fc.record({
  at: fc.nat(),
  op: fc.constantFrom('insert', 'delete', 'replace', 'repeat'),
  piece: fc.oneof(fc.constantFrom(...YAML_PIECES), fc.string({ maxLength: 6 })),
  length: fc.nat({ max: 40 }),
});
const mutatedDag = fc.record({ seed: fc.constantFrom(...SEEDS), edits: fc.array(edit, { minLength: 1, maxLength: 6 }) }).map(({ seed, edits }) => mutate(seed, edits));

const EXPRESSION_PIECES = [
  'params', 'params.name', 'params.count', 'tasks', 'tasks.first.outputs.x', 'tasks.first.state', 'item', 'itemIndex', 'run.id', 'x', 'create-vm',
  '(', ')', '[', ']', '!', '-', '+', '*', '/', '%', '==', '!=', '<', '<=', '>', '>=', '&&', '||', '?', ':', ',', '.', '"s"', "'q'", '"}}"',
  '"', "'", '1', '0', '2.5', '1e309', 'true', 'false', 'null', 'upper(', 'lower(', 'length(', 'join(', 'format(', 'contains(', 'toJson(',
  'fromJson(', 'range(', 'unknownFn(', '}}', '${{', '\\', ' ', '__proto__', 'constructor', 'length',
];
// Mostly well-formed expressions (so evaluation is reached), then token soup, then any text.
const { wellFormed } = fc.letrec<{ wellFormed: string }>((tie) => ({
  wellFormed: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('params.name', 'params.count', 'params.list', 'params.nested.a.b', 'item.name', 'itemIndex', 'tasks.first.outputs.x', 'run.id', '1', '0', '2.5', '"s"', "''", 'true', 'null', '[]'),
    fc.tuple(tie('wellFormed'), fc.constantFrom('+', '-', '*', '/', '%', '==', '!=', '<', '>=', '&&', '||'), tie('wellFormed')).map(([left, operator, right]) => `${left} ${operator} ${right}`),
    fc.tuple(fc.constantFrom('!', '-'), tie('wellFormed')).map(([operator, operand]) => `${operator}${operand}`),
    fc.tuple(fc.constantFrom(...EXPRESSION_FUNCTIONS), fc.array(tie('wellFormed'), { maxLength: 3 })).map(([name, args]) => `${name}(${args.join(', ')})`),
    fc.tuple(tie('wellFormed'), tie('wellFormed')).map(([object, index]) => `(${object})[${index}]`),
    fc.tuple(tie('wellFormed'), tie('wellFormed'), tie('wellFormed')).map(([test, yes, no]) => `${test} ? ${yes} : ${no}`),
    fc.array(tie('wellFormed'), { maxLength: 4 }).map((items) => `[${items.join(', ')}]`),
  ),
}));
const expressionText = fc.oneof(
  { weight: 4, arbitrary: wellFormed },
  { weight: 2, arbitrary: fc.array(fc.constantFrom(...EXPRESSION_PIECES), { maxLength: 40 }).map((pieces) => pieces.join(' ')) },
  { weight: 1, arbitrary: fc.array(fc.constantFrom(...EXPRESSION_PIECES), { maxLength: 40 }).map((pieces) => pieces.join('')) },
  { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
);
const SCOPE = {
  params: { name: 'web-01', count: 3, list: [1, 2, 3], nested: { a: { b: 'c' } } },
  tasks: { first: { outputs: { x: '1', items: [{ a: 1 }] }, state: 'succeeded', attempt: 1 } },
  item: { name: 'hv-01' },
  itemIndex: 0,
  run: { id: 'run-1', key: 'k', dag: 'fixtures/fuzz', repo: 'fixtures', commit: 'c' },
};

function dagWithExpression(expression: string, where: number): string {
  const template = JSON.stringify(`\${{ ${expression} }}`);
  const task = [
    `with: { value: ${template} }`,
    `when: ${template}`,
    `with: { script: ${JSON.stringify(`echo \${{ ${expression} }}`)} }`,
    `forEach: ${template}`,
  ][where % 4];
  const uses = where % 4 === 2 ? 'shell' : 'noop';
  return `id: fuzz\nparams:\n  name: { type: string, default: web-01 }\n  count: { type: integer, default: 3 }\ntasks:\n  - { id: first, uses: noop }\n  - id: second\n    uses: ${uses}\n    needs: first\n    ${task}\n`;
}

function report(t: TestContext, label: string, before: number): void {
  const message = `fuzz: ${inputs - before} inputs (${label}, seed ${SEED})`;
  t.diagnostic(message);
  console.log(message);
}

describe('the compiler under fuzzing', () => {
  it('returns a result or located diagnostics for arbitrary YAML-like text', (t) => {
    const before = inputs;
    fc.assert(fc.property(yamlish, (text) => void compileChecked(text)), { seed: SEED, numRuns: runs(1000) });
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => void compileChecked(text)), { seed: SEED, numRuns: runs(300) });
    report(t, 'YAML-like and arbitrary text', before);
  });

  it('returns a result or located diagnostics for mutated valid DAG files', (t) => {
    const before = inputs;
    fc.assert(fc.property(mutatedDag, (text) => void compileChecked(text)), { seed: SEED, numRuns: runs(700) });
    report(t, 'mutated DAG files', before);
  });

  it('parses and evaluates arbitrary expressions with only the expression errors, and compiles them in every place a DAG holds one', (t) => {
    const before = inputs;
    let parsed = 0;
    fc.assert(
      fc.property(expressionText, (source) => {
        inputs += 1;
        let expr;
        try {
          expr = parseExpression(source);
        } catch (error) {
          assert.ok(error instanceof ExpressionSyntaxError, `parse threw ${String(error)}`);
          return;
        }
        parsed += 1;
        try {
          evaluateExpression(expr, SCOPE, source);
        } catch (error) {
          assert.ok(error instanceof ExpressionEvaluationError, `evaluate threw ${String(error)}`);
        }
      }),
      { seed: SEED, numRuns: runs(2000) },
    );
    fc.assert(fc.property(expressionText, fc.nat(), (source, where) => void compileChecked(dagWithExpression(source, where))), { seed: SEED, numRuns: runs(600) });
    assert.ok(parsed > 500, `enough generated expressions parse to reach evaluation (${parsed})`);
    report(t, `expressions, ${parsed} evaluated`, before);
  });

  it('compiles every seed file unchanged, so the mutations start from valid DAGs', () => {
    for (const text of SEEDS) assert.ok(compileChecked(text).dag, 'seed files are valid DAGs');
  });
});
