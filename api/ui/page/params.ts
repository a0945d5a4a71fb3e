import type { ParamSpec, ParamType } from './types';

/** How a param is entered in the start-run form. */
export type ParamInput = 'checkbox' | 'number' | 'json' | 'text';

/** Checkbox for booleans, number for integers and numbers, a JSON textarea for objects and arrays, text otherwise. */
export function inputKind(spec: ParamSpec): ParamInput {
  const type: ParamType = spec.type ?? 'string';
  if (type === 'boolean') return 'checkbox';
  if (type === 'integer' || type === 'number') return 'number';
  if (type === 'array' || type === 'object') return 'json';
  return 'text';
}

/** What the form shows first: the default, except a secret's (the API masks it; the run uses it when left empty). */
export function initialValue(spec: ParamSpec): string | boolean {
  const kind = inputKind(spec);
  if (kind === 'checkbox') return spec.default === true;
  if (spec.secret || spec.default === undefined || spec.default === null) return '';
  if (kind === 'json') return JSON.stringify(spec.default, null, 2);
  return typeof spec.default === 'string' ? spec.default : JSON.stringify(spec.default);
}

export interface FormParams {
  params: Record<string, unknown>;
  /** `name: why` for each value that cannot be sent as its type. */
  problems: string[];
}

/**
 * The POST /api/runs `params` from the form's raw values. An empty field is left out, so the DAG's
 * default applies (and a required param is refused by the API with its own message); the API checks
 * every value again (enum, pattern, min/max), this only turns text into the param's type.
 */
export function paramsFromForm(specs: Readonly<Record<string, ParamSpec>>, raw: Readonly<Record<string, string | boolean | undefined>>): FormParams {
  const params: [string, unknown][] = [];
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(specs)) {
    const value = Object.prototype.hasOwnProperty.call(raw, name) ? raw[name] : undefined;
    const kind = inputKind(spec);
    if (kind === 'checkbox') {
      if (typeof value === 'boolean') params.push([name, value]);
      continue;
    }
    if (typeof value !== 'string' || value.trim() === '') continue;
    const converted = convert(spec.type ?? 'string', value);
    if ('problem' in converted) problems.push(`${name}: ${converted.problem}`);
    else params.push([name, converted.value]);
  }
  return { params: Object.fromEntries(params), problems };
}

function convert(type: ParamType, text: string): { value: unknown } | { problem: string } {
  switch (type) {
    case 'integer':
      return /^\s*-?\d{1,15}\s*$/.test(text) ? { value: Number(text) } : { problem: 'expected a whole number' };
    case 'number': {
      const value = Number(text);
      return text.trim() !== '' && Number.isFinite(value) ? { value } : { problem: 'expected a number' };
    }
    case 'array':
    case 'object': {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return { problem: `expected JSON (${type === 'array' ? '[...]' : '{...}'})` };
      }
      const isArray = Array.isArray(value);
      if (type === 'array' ? !isArray : isArray || value === null || typeof value !== 'object') return { problem: `expected a JSON ${type}` };
      return { value };
    }
    case 'boolean':
      return { value: text === 'true' };
    case 'string':
      return { value: text };
  }
}
