import { assertNever } from './ast';
import type { BinaryExpr, CallExpr, Expr, IndexExpr, UnaryExpr } from './ast';
import { ExpressionEvaluationError } from './errors';
import { lookupFunction } from './functions';
import { deepEqual, hasOwn, isTruthy, readProperty, toText, typeName } from './values';

/** The roots an expression can read, e.g. `params`, `tasks`, `item`, `run`. */
export type ExpressionScope = Readonly<Record<string, unknown>>;

interface Context {
  readonly scope: ExpressionScope;
  readonly source: string;
}

/**
 * Evaluates a parsed expression against `scope`. Pure: reads only own properties of the
 * scope data and never mutates it. Pass `source` (the parsed text) so errors can quote it.
 * Throws ExpressionEvaluationError on type errors, division by zero or bad function arguments.
 */
export function evaluateExpression(expr: Expr, scope: ExpressionScope, source?: string): unknown {
  return evaluate(expr, { scope, source: source ?? '' });
}

function evaluate(expr: Expr, context: Context): unknown {
  switch (expr.kind) {
    case 'literal':
      return expr.value;
    case 'array':
      return expr.elements.map((element) => evaluate(element, context));
    case 'identifier':
      return hasOwn(context.scope, expr.name) ? context.scope[expr.name] : undefined;
    case 'member':
      return readProperty(evaluate(expr.object, context), expr.property);
    case 'index':
      return evaluateIndex(expr, context);
    case 'call':
      return evaluateCall(expr, context);
    case 'unary':
      return evaluateUnary(expr, context);
    case 'logical': {
      const left = evaluate(expr.left, context);
      if (expr.operator === '&&') return isTruthy(left) ? evaluate(expr.right, context) : left;
      return isTruthy(left) ? left : evaluate(expr.right, context);
    }
    case 'binary':
      return evaluateBinary(expr, context);
    case 'conditional':
      return isTruthy(evaluate(expr.test, context))
        ? evaluate(expr.consequent, context)
        : evaluate(expr.alternate, context);
    default:
      return assertNever(expr);
  }
}

function evaluateIndex(expr: IndexExpr, context: Context): unknown {
  const target = evaluate(expr.object, context);
  const key = evaluate(expr.index, context);
  if (typeof key === 'number') return readProperty(target, String(key));
  if (typeof key === 'string') return readProperty(target, key);
  return fail(context, expr, `index must be a string or a number, got ${typeName(key)}`);
}

function evaluateCall(expr: CallExpr, context: Context): unknown {
  const fn = lookupFunction(expr.name);
  if (fn === undefined) return fail(context, expr, `unknown function "${expr.name}"`);
  const args = expr.args.map((arg) => evaluate(arg, context));
  return fn.call(args, { name: expr.name, fail: (reason) => fail(context, expr, `${expr.name}(): ${reason}`) });
}

function evaluateUnary(expr: UnaryExpr, context: Context): unknown {
  const operand = evaluate(expr.operand, context);
  switch (expr.operator) {
    case '!':
      return !isTruthy(operand);
    case '-':
      if (typeof operand !== 'number') return fail(context, expr, `"-" needs a number, got ${typeName(operand)}`);
      return -operand;
    default:
      return assertNever(expr.operator);
  }
}

function evaluateBinary(expr: BinaryExpr, context: Context): unknown {
  const left = evaluate(expr.left, context);
  const right = evaluate(expr.right, context);
  const { operator } = expr;
  switch (operator) {
    case '==':
      return deepEqual(left, right);
    case '!=':
      return !deepEqual(left, right);
    case '<':
    case '<=':
    case '>':
    case '>=':
      return compare(expr, context, left, right);
    case '+':
      if (typeof left === 'number' && typeof right === 'number') return finite(expr, context, left + right);
      if (typeof left === 'string' || typeof right === 'string') return toText(left) + toText(right);
      return fail(context, expr, `cannot add ${typeName(left)} and ${typeName(right)} (needs two numbers, or a string on either side)`);
    case '-':
    case '*':
    case '/':
    case '%':
      return arithmetic(expr, context, left, right);
    default:
      return assertNever(operator);
  }
}

function compare(expr: BinaryExpr, context: Context, left: unknown, right: unknown): boolean {
  const comparable =
    (typeof left === 'number' && typeof right === 'number') || (typeof left === 'string' && typeof right === 'string');
  if (!comparable) {
    return fail(
      context,
      expr,
      `cannot compare ${typeName(left)} with ${typeName(right)} using "${expr.operator}" (needs two numbers or two strings)`,
    );
  }
  const [a, b] = [left as number | string, right as number | string];
  switch (expr.operator) {
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    default:
      return a >= b;
  }
}

function arithmetic(expr: BinaryExpr, context: Context, left: unknown, right: unknown): number {
  if (typeof left !== 'number' || typeof right !== 'number') {
    return fail(context, expr, `"${expr.operator}" needs two numbers, got ${typeName(left)} and ${typeName(right)}`);
  }
  if ((expr.operator === '/' || expr.operator === '%') && right === 0) return fail(context, expr, 'division by zero');
  const result =
    expr.operator === '-' ? left - right : expr.operator === '*' ? left * right : expr.operator === '/' ? left / right : left % right;
  return finite(expr, context, result);
}

function finite(expr: Expr, context: Context, value: number): number {
  return Number.isFinite(value) ? value : fail(context, expr, 'result is too large to represent');
}

function fail(context: Context, expr: Expr, reason: string): never {
  throw new ExpressionEvaluationError(reason, context.source, expr.offset);
}
