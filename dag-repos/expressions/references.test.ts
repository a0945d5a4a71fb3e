import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectReferences, collectValueReferences, parseExpression } from './index';
import { syntaxErrorOf } from './test-helpers';

const refs = (source: string): string[][] => collectReferences(parseExpression(source));

describe('collectReferences', () => {
  it('returns the full member path of a reference', () => {
    assert.deepEqual(refs('tasks.create.outputs.ip'), [['tasks', 'create', 'outputs', 'ip']]);
    assert.deepEqual(refs('params'), [['params']]);
  });
  it('keeps hyphenated task ids as one segment', () => {
    assert.deepEqual(refs('tasks.create-vm.outputs.ip'), [['tasks', 'create-vm', 'outputs', 'ip']]);
  });
  it('counts literal string and number indexes as segments', () => {
    assert.deepEqual(refs("tasks['create-vm'].outputs[0]"), [['tasks', 'create-vm', 'outputs', '0']]);
  });
  it('ends the path at a computed index and collects the index expression separately', () => {
    assert.deepEqual(refs('params.disks[item.index].size'), [['params', 'disks'], ['item', 'index']]);
  });
  it('collects references from every operand, argument and branch, once each, in order', () => {
    assert.deepEqual(refs("params.a > 1 ? join(params.list, params.sep) : params.a + params.b || !item['x']"), [
      ['params', 'a'],
      ['params', 'list'],
      ['params', 'sep'],
      ['params', 'b'],
      ['item', 'x'],
    ]);
    assert.deepEqual(refs('[params.a, -params.b]'), [['params', 'a'], ['params', 'b']]);
  });
  it('finds nothing in literals and function calls on literals', () => {
    assert.deepEqual(refs("upper('x') + 1"), []);
    assert.deepEqual(refs("fromJson('{}').a"), []);
  });
});

describe('collectValueReferences', () => {
  it('gathers references from every template deep inside a value, without duplicates', () => {
    const value = {
      name: 'vm-${{ params.vm_name }}-${{ item.name }}',
      steps: [{ ip: '${{ tasks.create.outputs.ip }}' }, 'again ${{ params.vm_name }}', 7],
    };
    assert.deepEqual(collectValueReferences(value), [
      ['params', 'vm_name'],
      ['item', 'name'],
      ['tasks', 'create', 'outputs', 'ip'],
    ]);
  });
  it('throws the syntax error of a broken template', () => {
    const error = syntaxErrorOf(() => collectValueReferences({ a: ['${{ params.x + }}'] }));
    assert.equal(error.offset, 14);
  });
});
