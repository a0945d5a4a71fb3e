import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { LocalCatalog } from '../dag-repos/catalog/local-catalog';
import { checkDagFile, compileDagFile, type CompileContext, type DagFile } from '../dag-repos/compiler/compile';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import { DagValidationError, formatDiagnostic, type DagDiagnostic, type DiagnosticCode } from '../dag-repos/compiler/diagnostics';
import type { ParamSpec } from '../dag-repos/schema/dag-spec';
import { checkParamValue, coerceParamString, maskSecretParams, ParamValidationError, resolveParams } from '../dag-repos/schema/params';

const FIXTURES = path.join(__dirname, 'fixtures', 'dags');
const REPO = 'fixtures';
const registry = new ActionRegistry();
// The valid fixtures form one repository, so `uses: dag` calls in any fixture resolve against them.
const fixtureRepo = LocalCatalog.load([{ repo: REPO, dir: path.join(FIXTURES, 'valid') }], registry);
const context: CompileContext = fixtureRepo.compileContext();

function fixtureNames(kind: 'valid' | 'invalid'): string[] {
  return readdirSync(path.join(FIXTURES, kind))
    .filter((name) => name.endsWith('.yaml'))
    .sort();
}

function fixture(kind: 'valid' | 'invalid', name: string): DagFile {
  return { repo: REPO, path: `${kind}/${name}`, commit: 'fixture', text: readFileSync(path.join(FIXTURES, kind, name), 'utf8') };
}

function inline(id: string, text: string, repo = REPO): DagFile {
  return { repo, path: `${id}.yaml`, commit: 'inline', text };
}

function mustCompile(file: DagFile, ctx: CompileContext = context): CompiledDag {
  const result = checkDagFile(file, ctx);
  assert.deepEqual(result.diagnostics.map(formatDiagnostic), [], `${file.path} should be valid`);
  assert.ok(result.dag, `${file.path} should compile`);
  return result.dag;
}

function onlyDiagnostic(file: DagFile, ctx: CompileContext = context): DagDiagnostic {
  const { dag, diagnostics } = checkDagFile(file, ctx);
  assert.equal(dag, undefined, `${file.path} should not compile`);
  assert.equal(diagnostics.length, 1, diagnostics.map(formatDiagnostic).join('\n'));
  return diagnostics[0] as DagDiagnostic;
}

interface Expectation {
  code: DiagnosticCode;
  line: number;
  column: number;
  message: string;
}

/** `# expect: <code> <line>:<column> <message substring>` lines at the top of an invalid fixture. */
function expectationsOf(text: string, name: string): Expectation[] {
  const expectations = [...text.matchAll(/^# expect: (\S+) (\d+):(\d+) (.+)$/gm)].map(([, code, line, column, message]) => ({
    code: code as DiagnosticCode,
    line: Number(line),
    column: Number(column),
    message: message ?? '',
  }));
  assert.ok(expectations.length > 0, `invalid/${name} has no "# expect:" line`);
  return expectations;
}

const byPosition = <T extends { line: number; column: number; code: string }>(a: T, b: T): number =>
  a.line - b.line || a.column - b.column || a.code.localeCompare(b.code);

function assertTopological(dag: CompiledDag, expectedIds: readonly string[]): void {
  const order = dag.tasks.map((task) => task.id);
  assert.deepEqual([...order].sort(), [...expectedIds].sort(), 'every task appears once');
  dag.tasks.forEach((task, position) => {
    for (const need of task.needs) assert.ok(order.indexOf(need) < position, `${task.id} comes after its upstream ${need}`);
  });
}

test('accepts every valid fixture and rejects every invalid one with the diagnostics it expects', async (t) => {
  assert.ok(fixtureNames('valid').length >= 8 && fixtureNames('invalid').length >= 23);
  for (const name of fixtureNames('valid')) {
    await t.test(`valid/${name}`, () => {
      const file = fixture('valid', name);
      const result = checkDagFile(file, context);
      const dag = mustCompile(file);
      assertTopological(dag, result.spec?.tasks.map((task) => task.id) ?? []);
      assert.equal(dag.catalogId, `${REPO}/${dag.id}`);
    });
  }
  for (const name of fixtureNames('invalid')) {
    await t.test(`invalid/${name}`, () => {
      const file = fixture('invalid', name);
      const expected = expectationsOf(file.text, name).sort(byPosition);
      const { dag, diagnostics } = checkDagFile(file, context);
      assert.equal(dag, undefined);
      const actual = [...diagnostics].sort(byPosition);
      const shown = actual.map(formatDiagnostic).join('\n');
      assert.deepEqual(
        actual.map(({ code, line, column }) => ({ code, line, column })),
        expected.map(({ code, line, column }) => ({ code, line, column })),
        shown,
      );
      expected.forEach((expectation, index) => {
        const diagnostic = actual[index] as DagDiagnostic;
        assert.ok(diagnostic.message.includes(expectation.message), `"${diagnostic.message}" should contain "${expectation.message}"`);
        assert.ok(formatDiagnostic(diagnostic).startsWith(`invalid/${name}:${diagnostic.line}:${diagnostic.column} `), 'messages start with their location');
      });
      assert.throws(() => compileDagFile(file, context), (error) => error instanceof DagValidationError && error.message === shown);
    });
  }
});

test('lists the whole cycle in order', () => {
  const file = fixture('invalid', 'cycle.yaml');
  const diagnostic = onlyDiagnostic(file);
  const cycle = /dependency cycle: (.+?);/.exec(diagnostic.message)?.[1]?.split(' -> ') ?? [];
  assert.equal(cycle.length, 4, 'three tasks, closed by repeating the first');
  assert.equal(cycle[0], cycle[3]);
  assert.deepEqual(new Set(cycle), new Set(['provision', 'install', 'configure']), 'the task outside the cycle is not listed');
  const spec = checkDagFile(file, context).spec;
  for (let i = 0; i + 1 < cycle.length; i += 1) {
    const [upstream, downstream] = [cycle[i], cycle[i + 1]];
    const task = spec?.tasks.find((candidate) => candidate.id === downstream);
    assert.ok(task?.needs.includes(upstream ?? ''), `${downstream} needs ${upstream}`);
  }
  assert.equal(diagnostic.path, `tasks.${cycle[0]}.needs`);
});

test('suggests the nearest task id for an unknown need', () => {
  const tasks = ['create-vm', 'delete-vm', 'start-vm', 'configure'].map((id) => `  - id: ${id}\n    uses: noop\n`).join('');
  const typo = onlyDiagnostic(inline('typo', `id: typo\ntasks:\n${tasks}  - id: last\n    uses: noop\n    needs: [start-vm, creat-vm]\n`));
  assert.equal(typo.code, 'unknown-need');
  assert.equal(typo.path, 'tasks.last.needs[1]');
  assert.equal(typo.message, 'unknown task "creat-vm" (did you mean "create-vm"?)');
  assert.equal(formatDiagnostic(typo), 'typo.yaml:13:23 tasks.last.needs[1]: unknown task "creat-vm" (did you mean "create-vm"?)');
  const far = onlyDiagnostic(inline('far', `id: far\ntasks:\n${tasks}  - id: last\n    uses: noop\n    needs: zzz\n`));
  assert.equal(far.message, 'unknown task "zzz"', 'no suggestion when nothing is close');
});

test('points at the key of an unknown field', () => {
  const taskField = onlyDiagnostic(inline('k', 'id: k\ntasks:\n  - id: a\n    uses: noop\n    need: b\n'));
  assert.deepEqual([taskField.code, taskField.line, taskField.column, taskField.path], ['schema', 5, 5, 'tasks.a.need']);
  assert.equal(taskField.message, 'unknown field "need"');
  const withField = onlyDiagnostic(inline('w', 'id: w\ntasks:\n  - id: a\n    uses: sleep\n    with:\n      duration: 1s\n      durration: 2s\n'));
  assert.deepEqual([withField.code, withField.line, withField.column, withField.path], ['action-input', 7, 7, 'tasks.a.with.durration']);
  const paramField = onlyDiagnostic(inline('p', 'id: p\nparams:\n  env:\n    defualt: dev\ntasks:\n  - id: a\n    uses: noop\n'));
  assert.deepEqual([paramField.line, paramField.column, paramField.path], [4, 5, 'params.env.defualt']);
});

test('checks templated with-fields only at run time', () => {
  const dag = mustCompile(fixture('valid', 'templated-fields.yaml'));
  const probe = dag.tasks.find((task) => task.id === 'probe');
  assert.deepEqual(probe?.with, { url: '${{ params.url }}', timeout: '${{ params.wait }}', expectStatus: '${{ params.codes }}' });
  const literal = onlyDiagnostic(inline('lit', 'id: lit\ntasks:\n  - id: probe\n    uses: http.check\n    with:\n      url: http://127.0.0.1/\n      timeout: soon\n'));
  assert.deepEqual([literal.code, literal.path], ['action-input', 'tasks.probe.with.timeout']);
  assert.match(literal.message, /invalid duration "soon"/);
  // A task's own timeout becomes part of the plan, so it must be written out.
  const own = onlyDiagnostic(fixture('invalid', 'templated-task-timeout.yaml'));
  assert.equal(own.path, 'tasks.wait.timeout');
});

test('pins sub-DAGs into the compiled plan', () => {
  const dag = mustCompile(fixture('valid', 'sub-dag-call.yaml'));
  assert.deepEqual(Object.keys(dag.children).sort(), ['fixtures/chain', 'fixtures/diamond']);
  const childOf = (id: string): string | undefined => dag.tasks.find((task) => task.id === id)?.childDag;
  assert.equal(childOf('call-chain'), 'fixtures/chain');
  assert.equal(childOf('call-again'), 'fixtures/chain');
  assert.equal(childOf('call-diamond'), 'fixtures/diamond');
  const chain = dag.children['fixtures/chain'];
  assert.equal(chain?.origin.path, 'chain.yaml');
  assert.deepEqual(chain?.tasks.map((task) => task.id), ['first', 'second', 'third']);
  assert.equal(JSON.stringify(JSON.parse(JSON.stringify(dag))), JSON.stringify(dag), 'the plan is plain JSON');
});

test('pins a sub-DAG whose params are given by one expression', () => {
  const dag = mustCompile(
    inline('pass-through', 'id: pass-through\nparams:\n  p:\n    type: object\n    default: {}\ntasks:\n  - id: call\n    uses: dag\n    with:\n      dag: chain\n      params: ${{ params.p }}\n'),
  );
  assert.equal(dag.tasks[0]?.childDag, 'fixtures/chain');
  assert.ok(dag.children['fixtures/chain']);
});

test('orders tasks topologically keeping file order among peers', () => {
  assert.deepEqual(mustCompile(fixture('valid', 'diamond.yaml')).tasks.map((task) => task.id), ['start', 'left', 'right', 'join']);
  const dag = mustCompile(
    inline('order', 'id: order\ntasks:\n  - id: d\n    uses: noop\n    needs: b\n  - id: a\n    uses: noop\n  - id: c\n    uses: noop\n    needs: a\n  - id: b\n    uses: noop\n'),
  );
  assert.deepEqual(dag.tasks.map((task) => task.id), ['a', 'b', 'd', 'c']);
});

test('rejects a DAG that calls itself', () => {
  const self = onlyDiagnostic(fixture('invalid', 'calls-itself.yaml'));
  assert.equal(self.message, 'DAG calls itself through fixtures/calls-itself -> fixtures/calls-itself');
  const files = new Map([
    ['loop/a', inline('a', 'id: a\ntasks:\n  - id: call-b\n    uses: dag\n    with:\n      dag: b\n', 'loop')],
    ['loop/b', inline('b', 'id: b\ntasks:\n  - id: call-a\n    uses: dag\n    with:\n      dag: a\n', 'loop')],
  ]);
  const loop = onlyDiagnostic(files.get('loop/a') as DagFile, { registry, resolveDag: (ref) => files.get(ref) });
  assert.equal(loop.code, 'sub-dag');
  assert.match(loop.message, /^DAG "loop\/b" is invalid:\n {4}b\.yaml:6:12 tasks\.call-a\.with\.dag: DAG calls itself through loop\/a -> loop\/b -> loop\/a$/);
});

test('loads the example repository with every DAG valid', () => {
  const catalog = LocalCatalog.load([{ repo: 'examples', dir: path.join(__dirname, '..', 'dag-repos', 'examples') }], registry);
  const entries = catalog.list();
  assert.ok(entries.some((entry) => entry.id === 'examples/hello'));
  for (const entry of entries) {
    assert.deepEqual(entry.diagnostics.map(formatDiagnostic), [], entry.id);
    assert.equal(entry.valid, true, entry.id);
  }
});

const PARAMS: Record<string, ParamSpec> = mustCompile(fixture('valid', 'params.yaml')).params;

test('applies param defaults the caller leaves out', () => {
  assert.deepEqual(resolveParams(PARAMS, { vm_name: 'web-01', replicas: 5 }), {
    vm_name: 'web-01',
    env: 'dev',
    replicas: 5,
    ratio: 0.5,
    verbose: false,
    disks: [10, 20],
    labels: { owner: 'ops' },
    password: 'changeme',
  });
});

test('converts command-line strings to each param type', () => {
  const spec = (type: ParamSpec['type']): ParamSpec => ({ type, required: false, secret: false });
  assert.equal(coerceParamString(spec('string'), '42'), '42');
  assert.equal(coerceParamString(spec('integer'), ' 42 '), 42);
  assert.equal(coerceParamString(spec('number'), '0.25'), 0.25);
  assert.equal(coerceParamString(spec('integer'), 'lots'), 'lots', 'left as is so the check can say why');
  for (const yes of ['true', 'YES', '1', 'on']) assert.equal(coerceParamString(spec('boolean'), yes), true);
  for (const no of ['false', 'no', '0', 'Off']) assert.equal(coerceParamString(spec('boolean'), no), false);
  assert.deepEqual(coerceParamString(spec('array'), 'a, b,c'), ['a', 'b', 'c']);
  assert.deepEqual(coerceParamString(spec('array'), '[1, "x"]'), [1, 'x']);
  assert.deepEqual(coerceParamString(spec('object'), '{"owner":"ops"}'), { owner: 'ops' });
  const resolved = resolveParams(PARAMS, { vm_name: 'web-01', replicas: '3', ratio: '1', verbose: 'yes', disks: '5,6', labels: '{}' }, { fromStrings: true });
  assert.deepEqual([resolved.replicas, resolved.ratio, resolved.verbose, resolved.disks, resolved.labels], [3, 1, true, ['5', '6'], {}]);
});

function paramProblems(given: Record<string, unknown>, specs: Record<string, ParamSpec> = PARAMS): string[] {
  try {
    resolveParams(specs, given);
  } catch (error) {
    assert.ok(error instanceof ParamValidationError);
    return error.problems.map((problem) => `${problem.param}: ${problem.message}`);
  }
  return assert.fail('expected a ParamValidationError');
}

test('rejects an unknown param name and suggests the nearest one', () => {
  const [problem] = paramProblems({ vm_name: 'web-01', replica: 3 });
  assert.equal(problem, 'replica: unknown param (did you mean "replicas"?); known params: vm_name, env, replicas, ratio, verbose, disks, labels, password');
  assert.deepEqual(paramProblems({ x: 1 }, {}), ['x: unknown param; this DAG takes no params']);
});

test('reports every param problem at once', () => {
  const problems = paramProblems({ replica: 3, ratio: 2, verbose: 'yes' });
  assert.deepEqual(problems, [
    'replica: unknown param (did you mean "replicas"?); known params: vm_name, env, replicas, ratio, verbose, disks, labels, password',
    'vm_name: required (string: Name of the VM.)',
    'ratio: must be at most 1, got 2',
    'verbose: expected a boolean, got "yes"',
  ]);
  assert.throws(() => resolveParams(PARAMS, { ratio: 2 }), /^ParamValidationError: param vm_name: required .*\nparam ratio: must be at most 1, got 2$/);
});

test('enforces enum, pattern, min and max on param values', () => {
  const vmName = PARAMS.vm_name as ParamSpec;
  assert.equal(checkParamValue(vmName, 'web-01'), undefined);
  assert.equal(checkParamValue(vmName, 'Web-01'), 'must match /[a-z][a-z0-9-]*/, got "Web-01"');
  assert.equal(checkParamValue(vmName, 'x web'), 'must match /[a-z][a-z0-9-]*/, got "x web"', 'the pattern must match the whole value');
  assert.equal(checkParamValue(vmName, 'ab'), 'must be at least 3 characters, got 2');
  assert.equal(checkParamValue(vmName, 'a'.repeat(31)), 'must be at most 30 characters, got 31');
  assert.equal(checkParamValue(PARAMS.env as ParamSpec, 'prod'), undefined);
  assert.equal(checkParamValue(PARAMS.env as ParamSpec, 'test'), 'must be one of "dev", "prod", got "test"');
  assert.equal(checkParamValue(PARAMS.replicas as ParamSpec, 0), 'must be at least 1, got 0');
  assert.equal(checkParamValue(PARAMS.replicas as ParamSpec, 2.5), 'expected an integer, got number 2.5');
  assert.equal(checkParamValue(PARAMS.disks as ParamSpec, [1, 2, 3, 4, 5]), 'must be at most 4 items, got 5');
  assert.equal(checkParamValue(PARAMS.labels as ParamSpec, []), 'expected an object, got an array');
});

test('masks secret params in status output', () => {
  const values = resolveParams(PARAMS, { vm_name: 'web-01', password: 's3cret' });
  const masked = maskSecretParams(PARAMS, values);
  assert.equal(masked.password, '***');
  assert.equal(masked.vm_name, 'web-01');
  assert.equal(values.password, 's3cret', 'the values themselves are not changed');
});
