import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initialValue, inputKind, paramsFromForm } from './params';

describe('the start-run form turns its fields into params', () => {
  it('offers a checkbox for booleans, a number field for numbers, JSON for objects and arrays, text otherwise', () => {
    assert.equal(inputKind({ type: 'boolean' }), 'checkbox');
    assert.equal(inputKind({ type: 'integer' }), 'number');
    assert.equal(inputKind({ type: 'number' }), 'number');
    assert.equal(inputKind({ type: 'object' }), 'json');
    assert.equal(inputKind({ type: 'array' }), 'json');
    assert.equal(inputKind({}), 'text');
  });

  it('converts each field to its param type', () => {
    const specs = { name: {}, count: { type: 'integer' as const }, ratio: { type: 'number' as const }, dry: { type: 'boolean' as const }, hosts: { type: 'array' as const }, vm: { type: 'object' as const } };
    const { params, problems } = paramsFromForm(specs, { name: 'web 1', count: '3', ratio: '0.5', dry: true, hosts: '["a","b"]', vm: '{"cpus": 2}' });
    assert.deepEqual(problems, []);
    assert.deepEqual(params, { name: 'web 1', count: 3, ratio: 0.5, dry: true, hosts: ['a', 'b'], vm: { cpus: 2 } });
  });

  it('leaves an empty field out so the default applies, but sends an unticked checkbox as false', () => {
    const { params } = paramsFromForm({ name: { default: 'x' }, count: { type: 'integer' }, dry: { type: 'boolean', default: true } }, { name: '', count: '  ', dry: false });
    assert.deepEqual(params, { dry: false });
  });

  it('refuses text that is not of the param type, naming the param', () => {
    const { params, problems } = paramsFromForm(
      { count: { type: 'integer' }, ratio: { type: 'number' }, hosts: { type: 'array' }, vm: { type: 'object' } },
      { count: '1.5; rm -rf /', ratio: 'NaN', hosts: '{"a":1}', vm: '[1' },
    );
    assert.deepEqual(params, {});
    assert.deepEqual(problems, ['count: expected a whole number', 'ratio: expected a number', 'hosts: expected a JSON array', 'vm: expected JSON ({...})']);
  });

  it('sends only the params the DAG declares, whatever else the form holds', () => {
    const raw = Object.assign(Object.create(null) as Record<string, string>, { name: 'a', extra: 'injected', ['__proto__']: 'x' });
    const { params } = paramsFromForm({ name: {} }, raw);
    assert.deepEqual(params, { name: 'a' });
    assert.equal(Object.getPrototypeOf(params), Object.prototype);
  });

  it('keeps a JSON param named __proto__ as plain data and does not pollute prototypes', () => {
    const { params } = paramsFromForm({ vm: { type: 'object' } }, { vm: '{"__proto__": {"polluted": true}}' });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(Object.keys(params.vm as object), ['__proto__']);
  });

  it('shows defaults in the form, but never a secret default', () => {
    assert.equal(initialValue({ default: 'hello' }), 'hello');
    assert.equal(initialValue({ type: 'integer', default: 4 }), '4');
    assert.equal(initialValue({ type: 'boolean', default: true }), true);
    assert.equal(initialValue({ type: 'object', default: { a: 1 } }), '{\n  "a": 1\n}');
    assert.equal(initialValue({ secret: true, default: '***' }), '');
  });
});
