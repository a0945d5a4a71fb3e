import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExpressionEvaluationError, ExpressionSyntaxError, evaluateExpression, parseExpression } from './index';
import { evaluationErrorOf, run, syntaxErrorOf } from './test-helpers';

const scope = {
  params: { vm_name: 'web-1', env: 'prod', count: 3, tags: ['a', 'b'], nested: { deep: { value: 42 } } },
  tasks: { 'create-vm': { outputs: { ip: '10.0.0.5' } }, create: { outputs: { ip: '10.0.0.6' } } },
  item: { name: 'disk', index: 1 },
};

describe('literals', () => {
  it('reads integers and decimals', () => {
    assert.equal(run('42'), 42);
    assert.equal(run('3.25'), 3.25);
  });
  it('reads negative numbers through unary minus', () => {
    assert.equal(run('-7'), -7);
    assert.equal(run('- 2.5'), -2.5);
  });
  it('reads single- and double-quoted strings with escapes', () => {
    assert.equal(run("'it\\'s'"), "it's");
    assert.equal(run('"say \\"hi\\""'), 'say "hi"');
    assert.equal(run("'a\\nb\\tc\\\\d'"), 'a\nb\tc\\d');
  });
  it('reads true, false and null', () => {
    assert.equal(run('true'), true);
    assert.equal(run('false'), false);
    assert.equal(run('null'), null);
  });
  it('reads array literals, including nested and trailing-comma ones', () => {
    assert.deepEqual(run("[1, 'two', [true], ]"), [1, 'two', [true]]);
    assert.deepEqual(run('[]'), []);
  });
});

describe('the syntax tree', () => {
  it('records each node with the offset of the token that names it', () => {
    assert.deepEqual(parseExpression("tasks.create-vm.outputs['ip'] + 1"), {
      kind: 'binary',
      operator: '+',
      offset: 30,
      left: {
        kind: 'index',
        offset: 23,
        index: { kind: 'literal', value: 'ip', offset: 24 },
        object: {
          kind: 'member',
          property: 'outputs',
          offset: 16,
          object: {
            kind: 'member',
            property: 'create-vm',
            offset: 6,
            object: { kind: 'identifier', name: 'tasks', offset: 0 },
          },
        },
      },
      right: { kind: 'literal', value: 1, offset: 32 },
    });
  });
  it('keeps && and || as logical nodes and calls as call nodes', () => {
    assert.deepEqual(parseExpression('upper(a) || b'), {
      kind: 'logical',
      operator: '||',
      offset: 9,
      left: { kind: 'call', name: 'upper', offset: 0, args: [{ kind: 'identifier', name: 'a', offset: 6 }] },
      right: { kind: 'identifier', name: 'b', offset: 12 },
    });
  });
});

describe('operator precedence', () => {
  it('multiplies before adding', () => {
    assert.equal(run('1 + 2 * 3'), 7);
    assert.equal(run('(1 + 2) * 3'), 9);
  });
  it('subtracts left to right', () => {
    assert.equal(run('10 - 4 - 3'), 3);
    assert.equal(run('20 / 2 / 5'), 2);
  });
  it('compares after arithmetic and tests equality after comparison', () => {
    assert.equal(run('1 + 1 == 2'), true);
    assert.equal(run('2 > 1 == true'), true);
  });
  it('binds && tighter than ||', () => {
    assert.equal(run('true || false && false'), true);
    assert.equal(run('(true || false) && false'), false);
  });
  it('binds unary operators tighter than binary ones', () => {
    assert.equal(run('-2 * 3'), -6);
    assert.equal(run('!false == true'), true);
  });
  it('nests ternaries to the right', () => {
    assert.equal(run("params.count > 5 ? 'big' : params.count > 1 ? 'medium' : 'small'", scope), 'medium');
  });
});

describe('operators', () => {
  it('short-circuits && and || and returns an operand', () => {
    assert.equal(run("params.missing || 'default'", scope), 'default');
    assert.equal(run("params.vm_name && params.env", scope), 'prod');
    assert.equal(run('0 && params.count / 0', scope), 0);
    assert.equal(run("'x' || params.count / 0", scope), 'x');
  });
  it('treats empty strings, 0, null, undefined and false as falsy but empty arrays as truthy', () => {
    for (const falsy of ["''", '0', 'null', 'params.missing', 'false']) assert.equal(run(`!${falsy}`, scope), true, falsy);
    assert.equal(run('![]'), false);
  });
  it('compares strictly with == and deeply for arrays and objects', () => {
    assert.equal(run("1 == '1'"), false);
    assert.equal(run('null == params.missing', scope), false);
    assert.equal(run("params.tags == ['a', 'b']", scope), true);
    assert.equal(run("params.tags != ['b', 'a']", scope), true);
    assert.equal(run('params.nested == fromJson(\'{"deep":{"value":42}}\')', scope), true);
  });
  it('orders two numbers or two strings', () => {
    assert.equal(run('2 <= 2'), true);
    assert.equal(run("'abc' < 'abd'"), true);
    assert.equal(run('3 >= 4'), false);
  });
  it('adds numbers and concatenates when either side is a string', () => {
    assert.equal(run('2 + 3'), 5);
    assert.equal(run("'vm-' + 3"), 'vm-3');
    assert.equal(run("'x' + params.missing", scope), 'x');
  });
  it('computes remainders and decimals', () => {
    assert.equal(run('7 % 3'), 1);
    assert.equal(run('7 / 2'), 3.5);
  });
});

describe('member and index access', () => {
  it('follows member paths through nested objects', () => {
    assert.equal(run('params.nested.deep.value', scope), 42);
    assert.equal(run('tasks.create.outputs.ip', scope), '10.0.0.6');
  });
  it('indexes arrays by number and objects by string', () => {
    assert.equal(run('params.tags[1]', scope), 'b');
    assert.equal(run("tasks['create-vm'].outputs['ip']", scope), '10.0.0.5');
    assert.equal(run('params.tags[item.index]', scope), 'b');
  });
  it('reads hyphenated identifiers such as task ids as one name', () => {
    assert.equal(run('tasks.create-vm.outputs.ip', scope), '10.0.0.5');
  });
  it('treats a hyphen between spaces, or before a space, as subtraction', () => {
    assert.equal(run('params.count - 1', scope), 2);
    assert.equal(run('params.count- 1', scope), 2);
    assert.equal(run('params.count -1', scope), 2);
  });
  it('returns undefined for unknown roots, missing members and members of null', () => {
    assert.equal(run('nothing'), undefined);
    assert.equal(run('params.missing.deeper.still', scope), undefined);
    assert.equal(run('null.x'), undefined);
    assert.equal(run('params.tags[10]', scope), undefined);
  });
  it('allows length on arrays and strings', () => {
    assert.equal(run('params.tags.length', scope), 2);
    assert.equal(run('params.vm_name.length', scope), 5);
  });
  it('accepts keywords as property names after a dot', () => {
    assert.equal(run('flags.true', { flags: { true: 'yes' } }), 'yes');
  });
});

describe('prototype safety', () => {
  it('never reads inherited properties such as __proto__, constructor or prototype', () => {
    for (const path of ['params.__proto__', 'params.constructor', 'params.constructor.prototype', 'params.toString', 'params.hasOwnProperty']) {
      assert.equal(run(path, scope), undefined, path);
    }
    assert.equal(run("params['__proto__']", scope), undefined);
    assert.equal(run("params.tags['constructor']", scope), undefined);
    assert.equal(run("'abc'.constructor"), undefined);
  });
  it('does not resolve inherited names at the root of the scope', () => {
    assert.equal(run('constructor'), undefined);
    assert.equal(run('__proto__'), undefined);
  });
  it('does not read properties of class instances, only of plain objects and arrays', () => {
    class Secret {
      readonly token = 'hidden';
    }
    assert.equal(run('holder.token', { holder: new Secret() }), undefined);
  });
  it('reads an own __proto__ key that came from JSON as plain data', () => {
    assert.deepEqual(run('fromJson(\'{"__proto__": {"x": 1}}\').__proto__'), { x: 1 });
  });
});

describe('parse errors', () => {
  it('reports an unexpected token with offset, column and expression text', () => {
    const error = syntaxErrorOf(() => parseExpression('params.a + )'));
    assert.equal(error.offset, 11);
    assert.equal(error.expression, 'params.a + )');
    assert.equal(error.message, 'unexpected token ")" at column 12 in "params.a + )"');
  });
  it('reports an unexpected end of the expression', () => {
    const error = syntaxErrorOf(() => parseExpression('1 +'));
    assert.equal(error.offset, 3);
    assert.match(error.message, /^unexpected end of expression at column 4/);
  });
  it('reports an empty expression', () => {
    assert.match(syntaxErrorOf(() => parseExpression('   ')).message, /^empty expression/);
  });
  it('reports a missing closing bracket or parenthesis', () => {
    assert.match(syntaxErrorOf(() => parseExpression('(1 + 2')).message, /^expected "\)" but found end of expression/);
    const error = syntaxErrorOf(() => parseExpression('[1 2]'));
    assert.equal(error.offset, 3);
    assert.match(error.message, /^expected "," or "\]" but found token "2"/);
  });
  it('reports unterminated strings at the opening quote and unknown escapes at the backslash', () => {
    assert.equal(syntaxErrorOf(() => parseExpression("x == 'abc")).offset, 5);
    const escape = syntaxErrorOf(() => parseExpression("'a\\qb'"));
    assert.equal(escape.offset, 2);
    assert.match(escape.message, /unknown escape sequence "\\q"/);
  });
  it('reports stray characters with a hint', () => {
    assert.match(syntaxErrorOf(() => parseExpression('a = 1')).message, /unexpected character "=" \(use "==" to compare\) at column 3/);
    assert.match(syntaxErrorOf(() => parseExpression('a & b')).message, /did you mean "&&"/);
    assert.match(syntaxErrorOf(() => parseExpression('a === b')).message, /"===" is not supported/);
    assert.equal(syntaxErrorOf(() => parseExpression('a # b')).offset, 2);
  });
  it('reports a missing property name after a dot', () => {
    const error = syntaxErrorOf(() => parseExpression('params.'));
    assert.match(error.message, /^expected a property name after "\." but found end of expression/);
  });
  it('rejects unknown functions at parse time, naming the function and the known ones', () => {
    const error = syntaxErrorOf(() => parseExpression('params.a + shell("rm")'));
    assert.equal(error.offset, 11);
    assert.match(error.message, /^unknown function "shell" \(known functions: coalesce, contains, .*upper\) at column 12/);
  });
  it('rejects inherited names as functions', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      assert.match(syntaxErrorOf(() => parseExpression(`${name}(1)`)).message, /unknown function/, name);
    }
  });
  it('rejects calls on anything but a function name', () => {
    assert.match(syntaxErrorOf(() => parseExpression('params.run(1)')).message, /only functions can be called, by name/);
  });
  it('rejects calls with the wrong number of arguments', () => {
    const error = syntaxErrorOf(() => parseExpression("join(a, ',', 'x')"));
    assert.equal(error.message, 'function "join" takes 1 to 2 argument(s) but got 3 at column 1 in "join(a, \',\', \'x\')"');
    assert.match(syntaxErrorOf(() => parseExpression('upper()')).message, /takes 1 argument\(s\) but got 0/);
    assert.match(syntaxErrorOf(() => parseExpression('coalesce()')).message, /takes at least 1 argument\(s\)/);
  });
  it('rejects a number glued to a name', () => {
    assert.match(syntaxErrorOf(() => parseExpression('12abc')).message, /unexpected character "a" after number/);
  });
  it('reports lines and columns for multi-line text', () => {
    const error = syntaxErrorOf(() => parseExpression('1 +\n  )'));
    assert.equal(error.offset, 6);
    assert.match(error.message, /at line 2, column 3 in " {2}\)"$/);
  });
  it('is an Error subclass named after its class', () => {
    const error = syntaxErrorOf(() => parseExpression(')'));
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'ExpressionSyntaxError');
  });
});

describe('evaluation errors', () => {
  it('rejects ordering values of different types, naming both types', () => {
    const error = evaluationErrorOf(() => run("params.count < 'x'", scope));
    assert.equal(error.expression, "params.count < 'x'");
    assert.equal(error.offset, 13);
    assert.equal(error.message, `cannot compare number with string using "<" (needs two numbers or two strings) at column 14 in "params.count < 'x'"`);
  });
  it('rejects adding values that are neither two numbers nor involve a string', () => {
    assert.match(evaluationErrorOf(() => run('1 + true')).message, /^cannot add number and boolean/);
    assert.match(evaluationErrorOf(() => run('[1] + [2]')).message, /^cannot add array and array/);
  });
  it('rejects arithmetic on non-numbers and division by zero', () => {
    assert.match(evaluationErrorOf(() => run("'6' * 2")).message, /^"\*" needs two numbers, got string and number/);
    assert.match(evaluationErrorOf(() => run('1 / 0')).message, /^division by zero at column 3/);
    assert.match(evaluationErrorOf(() => run('1 % 0')).message, /^division by zero/);
    assert.match(evaluationErrorOf(() => run("-'a'")).message, /^"-" needs a number, got string/);
  });
  it('rejects indexes that are not strings or numbers', () => {
    assert.match(evaluationErrorOf(() => run('params.tags[null]', scope)).message, /^index must be a string or a number, got null/);
  });
  it('omits the location when no source text is given', () => {
    const error = evaluationErrorOf(() => evaluateExpression(parseExpression('1 / 0'), {}));
    assert.equal(error.message, 'division by zero');
    assert.equal(error.expression, '');
  });
  it('is an Error subclass distinct from syntax errors', () => {
    const error = evaluationErrorOf(() => run('1 / 0'));
    assert.ok(error instanceof Error);
    assert.ok(!(error instanceof ExpressionSyntaxError));
    assert.ok(error instanceof ExpressionEvaluationError);
    assert.equal(error.name, 'ExpressionEvaluationError');
  });
});

describe('purity', () => {
  it('does not mutate the scope and gives the same answer twice', () => {
    const data = { params: { list: [3, 1, 2] } };
    const snapshot = JSON.stringify(data);
    const expr = parseExpression("join(params.list, '-') + toJson(params)");
    const first = evaluateExpression(expr, data);
    assert.equal(evaluateExpression(expr, data), first);
    assert.equal(JSON.stringify(data), snapshot);
  });
});
