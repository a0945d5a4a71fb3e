import { didYouMean } from './suggest';
import type { ParamSpec } from './dag-spec';
import { compileLinearRegex, PatternSyntaxError } from './linear-regex';

/** Param checks shared by the CLI, the HTTP API, the compiler (defaults) and the workflow (sub-DAG calls). Pure. */

export interface ParamProblem {
  param: string;
  message: string;
}

export class ParamValidationError extends Error {
  override readonly name = 'ParamValidationError';
  constructor(readonly problems: readonly ParamProblem[]) {
    super(problems.map((problem) => `param ${problem.param}: ${problem.message}`).join('\n'));
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `"${value.length > 40 ? `${value.slice(0, 40)}…` : value}"`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Array and object params deeper than this are refused, so no later walk over a value can exhaust the stack. */
export const MAX_PARAM_DEPTH = 32;

// The pattern runs in linear time (RE2), so a long hostile value cannot stall the API or a workflow.
// A pattern RE2 cannot compile (a DAG pinned before patterns were checked at compile time) refuses the value instead of throwing.
function patternMismatch(pattern: string, value: string): string | undefined {
  try {
    return compileLinearRegex(pattern).matchesWhole(value) ? undefined : `must match /${pattern}/, got ${describe(value)}`;
  } catch (error) {
    if (error instanceof PatternSyntaxError) return `cannot be checked: ${error.message}`;
    throw error;
  }
}

// Iterative on purpose: the value may be a hostile JSON body nested a hundred thousand levels deep.
function nestingDepth(value: object): number {
  let deepest = 0;
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 1 }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    deepest = Math.max(deepest, next.depth);
    if (deepest > MAX_PARAM_DEPTH) return deepest;
    const children = Array.isArray(next.value) ? next.value : typeof next.value === 'object' && next.value !== null ? Object.values(next.value) : [];
    for (const child of children) if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: next.depth + 1 });
  }
  return deepest;
}

/** Turns a command-line string into the param's type; leaves it as is when it cannot (the check then says why). */
export function coerceParamString(spec: ParamSpec, raw: string): unknown {
  switch (spec.type) {
    case 'string':
      return raw;
    case 'integer':
    case 'number': {
      const trimmed = raw.trim();
      return trimmed !== '' && Number.isFinite(Number(trimmed)) ? Number(trimmed) : raw;
    }
    case 'boolean':
      if (/^(true|yes|1|on)$/i.test(raw)) return true;
      if (/^(false|no|0|off)$/i.test(raw)) return false;
      return raw;
    case 'array':
    case 'object':
      try {
        return JSON.parse(raw) as unknown;
      } catch {
        return spec.type === 'array' && !raw.trim().startsWith('[') ? raw.split(',').map((part) => part.trim()) : raw;
      }
  }
}

/** The problem with `value` for this param, or undefined when it is acceptable. */
export function checkParamValue(spec: ParamSpec, value: unknown): string | undefined {
  const typeOk =
    (spec.type === 'string' && typeof value === 'string') ||
    (spec.type === 'integer' && typeof value === 'number' && Number.isInteger(value)) ||
    (spec.type === 'number' && typeof value === 'number' && Number.isFinite(value)) ||
    (spec.type === 'boolean' && typeof value === 'boolean') ||
    (spec.type === 'array' && Array.isArray(value)) ||
    (spec.type === 'object' && typeof value === 'object' && value !== null && !Array.isArray(value));
  if (!typeOk) return `expected ${spec.type === 'integer' || spec.type === 'array' || spec.type === 'object' ? 'an' : 'a'} ${spec.type}, got ${describe(value)}`;
  if (spec.enum && !spec.enum.some((allowed) => allowed === value)) {
    return `must be one of ${spec.enum.map((allowed) => JSON.stringify(allowed)).join(', ')}, got ${describe(value)}`;
  }
  if (spec.pattern !== undefined && typeof value === 'string') {
    const problem = patternMismatch(spec.pattern, value);
    if (problem) return problem;
  }
  if (typeof value === 'object' && value !== null && nestingDepth(value) > MAX_PARAM_DEPTH) {
    return `nested deeper than ${MAX_PARAM_DEPTH} levels`;
  }
  const size = typeof value === 'number' ? value : typeof value === 'string' || Array.isArray(value) ? value.length : undefined;
  const unit = typeof value === 'number' ? '' : typeof value === 'string' ? ' characters' : ' items';
  if (size !== undefined && spec.min !== undefined && size < spec.min) return `must be at least ${spec.min}${unit}, got ${typeof value === 'number' ? value : size}`;
  if (size !== undefined && spec.max !== undefined && size > spec.max) return `must be at most ${spec.max}${unit}, got ${typeof value === 'number' ? value : size}`;
  return undefined;
}

/**
 * Applies defaults and checks every given value. `fromStrings` converts command-line strings first.
 * Throws ParamValidationError listing every problem: unknown names (with suggestions), missing required values, bad values.
 */
export function resolveParams(
  specs: Readonly<Record<string, ParamSpec>>,
  given: Readonly<Record<string, unknown>>,
  options: { fromStrings?: boolean } = {},
): Record<string, unknown> {
  const problems: ParamProblem[] = [];
  const names = Object.keys(specs);
  for (const name of Object.keys(given)) {
    if (!Object.prototype.hasOwnProperty.call(specs, name)) {
      const known = names.length ? `known params: ${names.join(', ')}` : 'this DAG takes no params';
      problems.push({ param: name, message: `unknown param${didYouMean(name, names)}; ${known}` });
    }
  }
  const resolved: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    let value = Object.prototype.hasOwnProperty.call(given, name) ? given[name] : undefined;
    if (value !== undefined && options.fromStrings && typeof value === 'string') value = coerceParamString(spec, value);
    if (value === undefined) value = spec.default;
    if (value === undefined) {
      if (spec.required) problems.push({ param: name, message: `required (${spec.type}${spec.description ? `: ${spec.description}` : ''})` });
      continue;
    }
    const problem = checkParamValue(spec, value);
    if (problem) problems.push({ param: name, message: problem });
    else resolved[name] = value;
  }
  if (problems.length > 0) throw new ParamValidationError(problems);
  return resolved;
}

/** Params with secret values masked, for status output and logs. */
export function maskSecretParams(specs: Readonly<Record<string, ParamSpec>>, values: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).map(([name, value]) => [name, specs[name]?.secret ? '***' : value]));
}
