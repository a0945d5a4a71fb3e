import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXPRESSION_FUNCTIONS } from './index';
import { evaluationErrorOf, run } from './test-helpers';

const scope = {
  params: { name: '  Web-1  ', tags: ['a', 'b'], disks: [{ size: 10 }, { size: 20 }], labels: { tier: 'web', zone: 'b' } },
};

describe('the function whitelist', () => {
  it('lists every function by name, sorted', () => {
    assert.deepEqual(EXPRESSION_FUNCTIONS, [
      'coalesce', 'contains', 'endsWith', 'format', 'fromJson', 'join', 'keys', 'length',
      'lower', 'range', 'replace', 'split', 'startsWith', 'toJson', 'toNumber', 'trim', 'upper',
    ]);
  });
  it('cannot be changed by callers', () => {
    assert.ok(Object.isFrozen(EXPRESSION_FUNCTIONS));
  });
});

describe('contains', () => {
  it('finds a substring in a string', () => {
    assert.equal(run("contains('hypervisor', 'visor')"), true);
    assert.equal(run("contains('hypervisor', 'kvm')"), false);
  });
  it('finds an element in an array by deep equality', () => {
    assert.equal(run("contains(params.tags, 'b')", scope), true);
    assert.equal(run('contains(params.disks, fromJson(\'{"size": 20}\'))', scope), true);
    assert.equal(run("contains(params.tags, 'c')", scope), false);
  });
  it('rejects other haystacks and a non-string needle for a string', () => {
    assert.match(evaluationErrorOf(() => run("contains(5, 'a')")).message, /^contains\(\): argument 1 must be a string or an array, got number/);
    assert.match(evaluationErrorOf(() => run("contains('abc', 1)")).message, /^contains\(\): argument 2 must be a string, got number/);
  });
});

describe('startsWith and endsWith', () => {
  it('test prefixes and suffixes', () => {
    assert.equal(run("startsWith('web-1', 'web')"), true);
    assert.equal(run("endsWith('web-1', '-1')"), true);
    assert.equal(run("endsWith('web-1', 'web')"), false);
  });
  it('name the function and the argument on a type error', () => {
    assert.match(evaluationErrorOf(() => run("startsWith(null, 'a')")).message, /^startsWith\(\): argument 1 must be a string, got null/);
    assert.match(evaluationErrorOf(() => run("endsWith('a', [])")).message, /^endsWith\(\): argument 2 must be a string, got array/);
  });
});

describe('join and split', () => {
  it('joins with a comma by default and with a given separator', () => {
    assert.equal(run('join(params.tags)', scope), 'a,b');
    assert.equal(run("join([1, null, 'x', true], ' ')"), '1  x true');
  });
  it('splits a string on a separator', () => {
    assert.deepEqual(run("split('a,b,,c', ',')"), ['a', 'b', '', 'c']);
  });
  it('reject non-arrays and non-strings', () => {
    assert.match(evaluationErrorOf(() => run("join('a,b')")).message, /^join\(\): argument 1 must be an array, got string/);
    assert.match(evaluationErrorOf(() => run("split('a', 1)")).message, /^split\(\): argument 2 must be a string, got number/);
  });
});

describe('length', () => {
  it('counts string characters, array elements and object keys', () => {
    assert.equal(run("length('abc')"), 3);
    assert.equal(run('length(params.tags)', scope), 2);
    assert.equal(run('length(params.labels)', scope), 2);
  });
  it('rejects other values', () => {
    assert.match(evaluationErrorOf(() => run('length(params.missing)', scope)).message, /^length\(\): argument 1 must be a string, an array or an object, got undefined/);
  });
});

describe('lower, upper and trim', () => {
  it('change case and strip surrounding whitespace', () => {
    assert.equal(run('lower(params.name)', scope), '  web-1  ');
    assert.equal(run('upper(trim(params.name))', scope), 'WEB-1');
  });
  it('reject non-strings', () => {
    assert.match(evaluationErrorOf(() => run('trim(1)')).message, /^trim\(\): argument 1 must be a string, got number at column 1 in "trim\(1\)"/);
  });
});

describe('toJson and fromJson', () => {
  it('round-trips structured values', () => {
    assert.equal(run('toJson(params.labels)', scope), '{"tier":"web","zone":"b"}');
    assert.deepEqual(run("fromJson('[1, {\"a\": null}]')"), [1, { a: null }]);
    assert.equal(run('toJson(params.missing)', scope), 'null');
  });
  it('rejects text that is not JSON with a clear message', () => {
    const error = evaluationErrorOf(() => run("fromJson('{bad')"));
    assert.match(error.message, /^fromJson\(\): argument 1 is not valid JSON \(.+\) at column 1/);
    assert.match(evaluationErrorOf(() => run('fromJson(1)')).message, /^fromJson\(\): argument 1 must be a string, got number/);
  });
});

describe('coalesce', () => {
  it('returns the first argument that is neither null nor undefined', () => {
    assert.equal(run("coalesce(params.missing, null, '', 'x')", scope), '');
    assert.equal(run('coalesce(params.missing, 0)', scope), 0);
  });
  it('returns null when every argument is missing', () => {
    assert.equal(run('coalesce(params.missing, null)', scope), null);
  });
});

describe('format', () => {
  it('fills numbered placeholders, in any order and repeated', () => {
    assert.equal(run("format('{0}-{1}', 'vm', 3)"), 'vm-3');
    assert.equal(run("format('{1}/{0}/{1}', 'a', 'b')"), 'b/a/b');
    assert.equal(run("format('{0}', params.tags)", scope), '["a","b"]');
  });
  it('writes doubled braces as literal braces', () => {
    assert.equal(run("format('{{{0}}}', 'x')"), '{x}');
  });
  it('rejects missing values and stray braces', () => {
    assert.match(evaluationErrorOf(() => run("format('{0}-{1}', 'a')")).message, /^format\(\): placeholder \{1\} has no value \(1 value\(s\) given\)/);
    assert.match(evaluationErrorOf(() => run("format('{x}', 'a')")).message, /^format\(\): unmatched "\{" in format string/);
    assert.match(evaluationErrorOf(() => run("format('a}', 'a')")).message, /^format\(\): unmatched "\}"/);
  });
});

describe('keys', () => {
  it('lists own keys of an object in insertion order', () => {
    assert.deepEqual(run('keys(params.labels)', scope), ['tier', 'zone']);
  });
  it('rejects arrays and other values', () => {
    assert.match(evaluationErrorOf(() => run('keys(params.tags)', scope)).message, /^keys\(\): argument 1 must be an object, got array/);
  });
});

describe('toNumber', () => {
  it('converts numeric strings and passes numbers through', () => {
    assert.equal(run("toNumber('42')"), 42);
    assert.equal(run("toNumber(' -1.5 ')"), -1.5);
    assert.equal(run("toNumber('1e3')"), 1000);
    assert.equal(run('toNumber(7)'), 7);
  });
  it('rejects text that is not a number, including empty and hex strings', () => {
    for (const bad of ["'abc'", "''", "'0x10'", 'true', 'null']) {
      assert.match(evaluationErrorOf(() => run(`toNumber(${bad})`)).message, /^toNumber\(\): argument 1 is not numeric/, bad);
    }
    assert.match(evaluationErrorOf(() => run("toNumber('abc')")).message, /not numeric: string "abc"/);
  });
});

describe('range', () => {
  it('lists integers from start up to but not including end', () => {
    assert.deepEqual(run('range(0, 4)'), [0, 1, 2, 3]);
    assert.deepEqual(run('range(-2, 1)'), [-2, -1, 0]);
    assert.deepEqual(run('range(5, 5)'), []);
    assert.deepEqual(run('range(5, 2)'), []);
  });
  it('allows at most 10000 elements', () => {
    assert.equal((run('range(0, 10000)') as number[]).length, 10000);
    assert.match(evaluationErrorOf(() => run('range(0, 10001)')).message, /^range\(\): would produce 10001 elements; the limit is 10000/);
  });
  it('rejects non-integers', () => {
    assert.match(evaluationErrorOf(() => run('range(0, 1.5)')).message, /^range\(\): argument 2 must be an integer, got number 1.5/);
    assert.match(evaluationErrorOf(() => run("range('0', 2)")).message, /^range\(\): argument 1 must be an integer, got string/);
  });
});

describe('replace', () => {
  it('replaces every occurrence as plain text', () => {
    assert.equal(run("replace('a.b.c', '.', '-')"), 'a-b-c');
    assert.equal(run("replace('x+y', '+', '$&$&')"), 'x$&$&y');
  });
  it('rejects an empty search string and non-strings', () => {
    assert.match(evaluationErrorOf(() => run("replace('abc', '', '-')")).message, /^replace\(\): argument 2 must not be empty/);
    assert.match(evaluationErrorOf(() => run("replace('abc', 'a', 1)")).message, /^replace\(\): argument 3 must be a string, got number/);
  });
});
