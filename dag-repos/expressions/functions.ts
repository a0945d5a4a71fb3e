import { deepEqual, hasOwn, isPlainObject, toText, typeName } from './values';

/** What a function sees besides its arguments: its name and a way to fail with a located error. */
export interface CallContext {
  readonly name: string;
  fail(reason: string): never;
}

export interface ExpressionFunction {
  readonly minArgs: number;
  readonly maxArgs: number;
  readonly call: (args: readonly unknown[], context: CallContext) => unknown;
}

const MAX_RANGE = 10_000;
const NUMERIC = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;

const fn = (minArgs: number, maxArgs: number, call: ExpressionFunction['call']): ExpressionFunction => ({
  minArgs,
  maxArgs,
  call,
});

function stringArg(args: readonly unknown[], index: number, context: CallContext): string {
  const value = args[index];
  if (typeof value === 'string') return value;
  return context.fail(`argument ${index + 1} must be a string, got ${typeName(value)}`);
}

function integerArg(args: readonly unknown[], index: number, context: CallContext): number {
  const value = args[index];
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  return context.fail(`argument ${index + 1} must be an integer, got ${describe(value)}`);
}

function arrayArg(args: readonly unknown[], index: number, context: CallContext): readonly unknown[] {
  const value = args[index];
  if (Array.isArray(value)) return value;
  return context.fail(`argument ${index + 1} must be an array, got ${typeName(value)}`);
}

function describe(value: unknown): string {
  return typeof value === 'number' ? `number ${value}` : typeName(value);
}

const FUNCTIONS: Readonly<Record<string, ExpressionFunction>> = Object.freeze({
  contains: fn(2, 2, (args, context) => {
    const haystack = args[0];
    if (typeof haystack === 'string') return haystack.includes(stringArg(args, 1, context));
    if (Array.isArray(haystack)) return haystack.some((item) => deepEqual(item, args[1]));
    return context.fail(`argument 1 must be a string or an array, got ${typeName(haystack)}`);
  }),
  startsWith: fn(2, 2, (args, context) => stringArg(args, 0, context).startsWith(stringArg(args, 1, context))),
  endsWith: fn(2, 2, (args, context) => stringArg(args, 0, context).endsWith(stringArg(args, 1, context))),
  join: fn(1, 2, (args, context) => {
    const separator = args.length > 1 ? stringArg(args, 1, context) : ',';
    return arrayArg(args, 0, context).map(toText).join(separator);
  }),
  split: fn(2, 2, (args, context) => stringArg(args, 0, context).split(stringArg(args, 1, context))),
  length: fn(1, 1, (args, context) => {
    const value = args[0];
    if (typeof value === 'string' || Array.isArray(value)) return value.length;
    if (isPlainObject(value)) return Object.keys(value).length;
    return context.fail(`argument 1 must be a string, an array or an object, got ${typeName(value)}`);
  }),
  lower: fn(1, 1, (args, context) => stringArg(args, 0, context).toLowerCase()),
  upper: fn(1, 1, (args, context) => stringArg(args, 0, context).toUpperCase()),
  trim: fn(1, 1, (args, context) => stringArg(args, 0, context).trim()),
  toJson: fn(1, 1, (args, context) => {
    try {
      return JSON.stringify(args[0]) ?? 'null';
    } catch (error) {
      return context.fail(`argument 1 cannot be written as JSON (${errorText(error)})`);
    }
  }),
  fromJson: fn(1, 1, (args, context) => {
    const text = stringArg(args, 0, context);
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      return context.fail(`argument 1 is not valid JSON (${errorText(error)})`);
    }
  }),
  coalesce: fn(1, Infinity, (args) => args.find((value) => value !== null && value !== undefined) ?? null),
  format: fn(1, Infinity, (args, context) => {
    const template = stringArg(args, 0, context);
    return template.replace(/\{\{|\}\}|\{(\d+)\}|[{}]/g, (match: string, digits: string | undefined) => {
      if (match === '{{') return '{';
      if (match === '}}') return '}';
      if (digits === undefined) return context.fail(`unmatched "${match}" in format string (write "${match}${match}" for a literal)`);
      const position = Number(digits) + 1;
      if (position >= args.length) {
        return context.fail(`placeholder {${digits}} has no value (${args.length - 1} value(s) given)`);
      }
      return toText(args[position]);
    });
  }),
  keys: fn(1, 1, (args, context) => {
    const value = args[0];
    if (isPlainObject(value)) return Object.keys(value);
    return context.fail(`argument 1 must be an object, got ${typeName(value)}`);
  }),
  toNumber: fn(1, 1, (args, context) => {
    const value = args[0];
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    if (typeof value === 'string' && NUMERIC.test(value)) {
      const parsed = Number(value);
      if (Number.isFinite(parsed)) return parsed;
    }
    const shown = typeof value === 'string' ? `string "${value}"` : describe(value);
    return context.fail(`argument 1 is not numeric: ${shown}`);
  }),
  range: fn(2, 2, (args, context) => {
    const start = integerArg(args, 0, context);
    const end = integerArg(args, 1, context);
    const count = Math.max(0, end - start);
    if (count > MAX_RANGE) return context.fail(`would produce ${count} elements; the limit is ${MAX_RANGE}`);
    return Array.from({ length: count }, (_, i) => start + i);
  }),
  replace: fn(3, 3, (args, context) => {
    const text = stringArg(args, 0, context);
    const search = stringArg(args, 1, context);
    const replacement = stringArg(args, 2, context);
    if (search === '') return context.fail('argument 2 must not be empty');
    // split/join rather than replaceAll: replaceAll would expand `$&` and friends.
    return text.split(search).join(replacement);
  }),
});

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Names of the functions expressions may call, sorted. */
export const EXPRESSION_FUNCTIONS: readonly string[] = Object.freeze(Object.keys(FUNCTIONS).sort());

/** Own-property lookup, so names such as `constructor` or `toString` are never callable. */
export function lookupFunction(name: string): ExpressionFunction | undefined {
  return hasOwn(FUNCTIONS, name) ? FUNCTIONS[name] : undefined;
}
