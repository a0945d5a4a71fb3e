import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
// ajv is not a direct dependency yet (it comes with @temporalio/worker's webpack); it is the reference validator here.
import Ajv2020 from 'ajv/dist/2020';
import { parse } from 'yaml';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { checkDagFile } from '../dag-repos/compiler/compile';
import { TaskSpec, TriggerRule } from '../dag-repos/schema/dag-spec';
import { durationError } from '../dag-repos/schema/duration';
import { DAG_JSON_SCHEMA_PATH, DURATION_PATTERN, renderDagJsonSchema } from '../dag-repos/schema/export-json-schema';

const ROOT = path.join(__dirname, '..');
const FIXTURES = path.join(__dirname, 'fixtures', 'dags');
const committedText = readFileSync(DAG_JSON_SCHEMA_PATH, 'utf8');
const schema = JSON.parse(committedText) as Record<string, unknown>;
const validate = new Ajv2020({ strict: true, allowUnionTypes: true, allErrors: true }).compile(schema);

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .map((name) => path.join(dir, name));
}

function schemaErrors(file: string): string[] {
  const valid = validate(parse(readFileSync(file, 'utf8')));
  return valid ? [] : (validate.errors ?? []).map((error) => `${path.basename(file)}: ${error.instancePath || '/'} ${error.message ?? ''}`);
}

/** JSON Pointer lookup, so the assertions below read like the schema's layout. */
function at(pointer: string): Record<string, unknown> {
  const node = pointer.split('/').slice(1).reduce<unknown>((current, key) => (current as Record<string, unknown> | undefined)?.[key], schema);
  assert.ok(node && typeof node === 'object', `${pointer} exists in the schema`);
  return node as Record<string, unknown>;
}

test('the committed JSON Schema is the one dag-spec.ts generates', () => {
  assert.equal(committedText, renderDagJsonSchema(), 'run: npx tsx dag-repos/schema/export-json-schema.ts');
  const script = path.join(ROOT, 'dag-repos', 'schema', 'export-json-schema.ts');
  execFileSync(process.execPath, ['--import', 'tsx', script, '--check'], { cwd: ROOT, stdio: 'pipe' });
});

test('is a valid draft 2020-12 schema that describes tasks and params', () => {
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
  assert.equal(ajv.validateSchema(schema), true, JSON.stringify(ajv.errors));
  assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
  assert.equal(typeof schema.$id, 'string');
  assert.equal(typeof schema.title, 'string');
  assert.deepEqual(schema.required, ['id', 'tasks']);
  assert.equal(at('/properties/tasks').type, 'array');
  assert.deepEqual(at('/properties/tasks/items').required, ['id', 'uses']);
  assert.deepEqual(Object.keys(at('/properties/tasks/items/properties')), Object.keys(TaskSpec.shape));
  assert.equal(at('/properties/tasks/items/properties/trigger').description, TriggerRule.description, 'describe() texts become descriptions');
  assert.deepEqual(Object.keys(at('/properties/params/additionalProperties/properties')), ['type', 'description', 'default', 'required', 'enum', 'pattern', 'min', 'max', 'secret']);
  assert.deepEqual(at('/properties/params/additionalProperties/properties/type').enum, ['string', 'integer', 'number', 'boolean', 'array', 'object']);
  assert.equal(at('/properties/tasks/items/properties/timeout').pattern, DURATION_PATTERN);
});

test('accepts every valid fixture and the example DAGs', () => {
  const files = [...yamlFiles(path.join(FIXTURES, 'valid')), ...yamlFiles(path.join(ROOT, 'dag-repos', 'examples', 'dags'))];
  assert.deepEqual(files.flatMap(schemaErrors), []);
});

test('rejects exactly the invalid fixtures whose fault is one of shape', () => {
  for (const file of yamlFiles(path.join(FIXTURES, 'invalid'))) {
    const text = readFileSync(file, 'utf8');
    // Faults of the file itself (syntax, tags, size, nesting, aliases) are below what a JSON Schema sees.
    if (/^# expect: (yaml-syntax|yaml-tag|file-limit|encoding) /m.test(text)) continue;
    // The grammar of secret:// values (dag-repos/schema/secret-uri.ts), at any depth under `with`, is a
    // refinement of the zod schema that the JSON Schema does not state: only the compiler reports it.
    const shapeFault = [...text.matchAll(/^# expect: schema .*$/gm)].some(([line]) => !line.includes('not a valid secret reference'));
    assert.equal(schemaErrors(file).length > 0, shapeFault, `${path.basename(file)}: ${shapeFault ? 'a shape fault the JSON Schema should catch' : 'only the compiler sees this fault'}`);
  }
});

test('accepts mixed-case ids as the compiler does', () => {
  const text = 'id: Web-Deploy\nparams:\n  VM_Name:\n    default: web\ntasks:\n  - id: Create-VM\n    uses: noop\n';
  const { dag, diagnostics } = checkDagFile({ repo: 'r', path: 'mixed.yaml', commit: 'c', text }, { registry: new ActionRegistry() });
  assert.deepEqual(diagnostics, []);
  assert.ok(dag);
  assert.equal(validate(parse(text)), true, JSON.stringify(validate.errors));
});

test('matches durations exactly as the compiler parses them', () => {
  const pattern = new RegExp(DURATION_PATTERN);
  for (const text of ['250ms', '30s', '5m', '1h', '1.5h', '1h30m', '2d', ' 10s ', '1m30s500ms', '', '30', 's', '5 minutes', '1h 30m', '-1s', '1.s', '${{ params.t }}']) {
    assert.equal(pattern.test(text), durationError(text) === undefined, JSON.stringify(text));
  }
});
