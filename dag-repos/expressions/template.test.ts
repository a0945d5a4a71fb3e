import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ExpressionEvaluationError,
  collectTemplateErrors,
  hasTemplate,
  parseExpression,
  parseTemplate,
  renderTemplate,
  renderValue,
} from './index';
import { syntaxErrorOf } from './test-helpers';

const scope = {
  params: { vm_name: 'web-1', env: 'prod', cpus: 4, tags: ['a', 'b'], spec: { ram: 2048 }, enabled: false },
  item: { name: 'disk0' },
};

describe('hasTemplate', () => {
  it('spots ${{ anywhere in a string', () => {
    assert.equal(hasTemplate('vm-${{ item.name }}'), true);
    assert.equal(hasTemplate('plain ${HOME} and {{ jinja }}'), false);
    assert.equal(hasTemplate('broken ${{'), true);
  });
});

describe('parseTemplate', () => {
  it('splits text and expressions, with trimmed sources and their offsets in the whole string', () => {
    const parts = parseTemplate('vm-${{ item.name }}-${{params.env}}');
    assert.equal(parts.length, 4);
    assert.deepEqual(parts[0], { kind: 'text', text: 'vm-' });
    assert.deepEqual(
      parts.map((part) => (part.kind === 'expr' ? [part.source, part.offset] : part.text)),
      ['vm-', ['item.name', 7], '-', ['params.env', 23]],
    );
    const second = parts[1];
    assert.ok(second?.kind === 'expr');
    assert.deepEqual(second.expr, parseExpression('item.name'));
  });
  it('returns one text part for a string without templates and none for an empty string', () => {
    assert.deepEqual(parseTemplate('just text'), [{ kind: 'text', text: 'just text' }]);
    assert.deepEqual(parseTemplate(''), []);
  });
  it('does not end an expression at }} inside a quoted string', () => {
    const parts = parseTemplate("${{ format('{{{0}}}', 'x') }}!");
    assert.equal(parts.length, 2);
    assert.equal(renderTemplate("${{ format('{{{0}}}', 'x') }}!", {}), '{x}!');
  });
  it('reports syntax errors with offsets relative to the whole string', () => {
    const error = syntaxErrorOf(() => parseTemplate('vm-${{ params.a + ) }}'));
    assert.equal(error.offset, 18);
    assert.equal(error.expression, 'vm-${{ params.a + ) }}');
    assert.equal(error.message, 'unexpected token ")" at column 19 in "vm-${{ params.a + ) }}"');
  });
  it('reports an unterminated ${{ at its start', () => {
    const error = syntaxErrorOf(() => parseTemplate('ok ${{ a }} then ${{ params.x'));
    assert.equal(error.offset, 17);
    assert.match(error.message, /^unterminated "\$\{\{" \(no closing "\}\}"\) at column 18/);
  });
  it('reports a string left open inside ${{ at its quote', () => {
    const error = syntaxErrorOf(() => parseTemplate("${{ params.x == 'a }}"));
    assert.equal(error.offset, 16);
    assert.match(error.message, /^unterminated string/);
  });
  it('reports an empty ${{ }}', () => {
    const error = syntaxErrorOf(() => parseTemplate('a ${{   }} b'));
    assert.equal(error.offset, 2);
    assert.match(error.message, /^empty expression in "\$\{\{ \}\}"/);
  });
  it('reports errors in multi-line scripts by line and column, quoting only that line', () => {
    const script = 'set -e\nvirsh start ${{ params.vm_name ) }}\necho done';
    const error = syntaxErrorOf(() => parseTemplate(script));
    assert.equal(error.offset, script.indexOf(')'));
    assert.equal(error.message, 'unexpected token ")" at line 2, column 32 in "virsh start ${{ params.vm_name ) }}"');
  });
});

describe('renderTemplate', () => {
  it('returns the raw value when the string is exactly one expression', () => {
    assert.deepEqual(renderTemplate('${{ params.tags }}', scope), ['a', 'b']);
    assert.equal(renderTemplate('${{ params.cpus }}', scope), 4);
    assert.equal(renderTemplate('  ${{ params.enabled }}\n', scope), false);
    assert.deepEqual(renderTemplate('${{ params.spec }}', scope), { ram: 2048 });
    assert.equal(renderTemplate('${{ params.missing }}', scope), undefined);
  });
  it('interpolates into a string when there is surrounding text or several expressions', () => {
    assert.equal(renderTemplate('vm-${{ item.name }}-${{ params.env }}', scope), 'vm-disk0-prod');
    assert.equal(renderTemplate('${{ params.cpus }}${{ params.cpus }}', scope), '44');
    assert.equal(renderTemplate('cpus=${{ params.cpus }} on=${{ params.enabled }}', scope), 'cpus=4 on=false');
  });
  it('interpolates null and undefined as empty text and objects as JSON', () => {
    assert.equal(renderTemplate('[${{ null }}|${{ params.missing }}]', scope), '[|]');
    assert.equal(renderTemplate('tags=${{ params.tags }} spec=${{ params.spec }}', scope), 'tags=["a","b"] spec={"ram":2048}');
  });
  it('returns strings without templates unchanged', () => {
    assert.equal(renderTemplate('echo $HOME {{ x }}', scope), 'echo $HOME {{ x }}');
  });
  it('throws evaluation errors that quote the failing expression', () => {
    assert.throws(() => renderTemplate('n=${{ params.cpus / 0 }}', scope), (error: unknown) => {
      assert.ok(error instanceof ExpressionEvaluationError);
      assert.equal(error.expression, 'params.cpus / 0');
      assert.equal(error.message, 'division by zero at column 13 in "params.cpus / 0"');
      return true;
    });
  });
});

describe('renderValue', () => {
  it('renders every string deep inside arrays and objects, keeping raw types for whole expressions', () => {
    const input = {
      name: 'vm-${{ params.vm_name }}',
      cpus: '${{ params.cpus }}',
      disks: [{ id: '${{ item.name }}', size: 10 }, 'literal'],
      tags: '${{ params.tags }}',
      untouched: { count: 3, flag: true, none: null },
    };
    assert.deepEqual(renderValue(input, scope), {
      name: 'vm-web-1',
      cpus: 4,
      disks: [{ id: 'disk0', size: 10 }, 'literal'],
      tags: ['a', 'b'],
      untouched: { count: 3, flag: true, none: null },
    });
  });
  it('does not mutate or share structure with its input', () => {
    const input = { list: ['${{ params.env }}'], nested: { value: '${{ params.cpus }}' } };
    const snapshot = structuredClone(input);
    const output = renderValue(input, scope) as typeof input;
    assert.deepEqual(input, snapshot);
    assert.notEqual(output.list, input.list);
    assert.notEqual(output.nested, input.nested);
  });
  it('does not render object keys', () => {
    assert.deepEqual(renderValue({ '${{ params.env }}': 1 }, scope), { '${{ params.env }}': 1 });
  });
  it('keeps an own __proto__ key as data instead of changing the prototype', () => {
    const input = JSON.parse('{"__proto__": {"polluted": "${{ params.env }}"}}') as Record<string, unknown>;
    const output = renderValue(input, scope) as Record<string, unknown>;
    assert.ok(Object.prototype.hasOwnProperty.call(output, '__proto__'));
    assert.equal(Object.getPrototypeOf(output), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(output, '__proto__')?.value, { polluted: 'prod' });
  });
  it('passes non-string leaves and non-plain objects through', () => {
    const when = new Date(0);
    assert.equal(renderValue(when, scope), when);
    assert.equal(renderValue(5, scope), 5);
    assert.equal(renderValue(null, scope), null);
  });
});

describe('collectTemplateErrors', () => {
  it('finds every broken template with its path', () => {
    const issues = collectTemplateErrors({
      ok: '${{ params.a }}',
      tasks: [{ run: 'echo ${{ params.a + }}' }, { run: 'fine' }, { args: ['x', '${{ nope(1) }}'] }],
      open: '${{ params.x',
    });
    assert.deepEqual(
      issues.map((issue) => [issue.path, issue.error.offset]),
      [
        [['tasks', 0, 'run'], 19],
        [['tasks', 2, 'args', 1], 4],
        [['open'], 0],
      ],
    );
    assert.match(issues[1]?.error.message ?? '', /unknown function "nope"/);
  });
  it('reports a bare broken string at the empty path and nothing for valid values', () => {
    assert.deepEqual(collectTemplateErrors('${{ ) }}').map((issue) => issue.path), [[]]);
    assert.deepEqual(collectTemplateErrors({ a: ['${{ params.a }}', 1, null] }), []);
  });
});
