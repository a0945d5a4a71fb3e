// Pure module: the compiler and the workflows (rollout) use it, so no Node built-ins and no I/O.
import type { ParamSpec } from '../schema/dag-spec';
import { claimsSecretUri, parseSecretUri } from '../schema/secret-uri';

/**
 * A secret reference the DAG author wrote in a task's `with`: the activity resolves `ref` and puts
 * the value at `path`, and only there. Any other string, even one that reads `secret://…`, is text.
 */
export interface SecretRef {
  /** Keys and array indexes from `with` down to the value, e.g. `['env', 'DB_PASSWORD']`. */
  path: (string | number)[];
  /** Exactly as written: `secret://env/NAME`, `secret://file/PATH` or `secret://vault/MOUNT/PATH#KEY`. */
  ref: string;
}

/** `${{ params.NAME }}` and nothing else: the one form through which a param's default reference is honoured. */
const WHOLE_PARAM = /^\s*\$\{\{\s*params\.([A-Za-z_][\w]*)\s*\}\}\s*$/;
/** Deeper `with` values are not searched; YAML that deep is refused elsewhere, and a walk must not blow the stack. */
const MAX_DEPTH = 64;

/**
 * True for a string that is exactly one valid secret reference (schema/secret-uri.ts: one grammar for
 * the schema, the compiler and the worker). A string claiming to be one that the grammar refuses is
 * refused by the DAG schema, so it never reaches a run as text.
 */
export function isSecretReference(value: unknown): value is string {
  return claimsSecretUri(value) && parseSecretUri(value).ok;
}

/**
 * The secret references written by the author in `input`: strings that are exactly a reference, and
 * strings that are exactly `${{ params.NAME }}` where NAME's default is a reference (the activity then
 * resolves it only if the run's value is still that very reference, so a caller cannot pick another).
 */
export function collectSecretRefs(input: unknown, params: Readonly<Record<string, ParamSpec>> = {}): SecretRef[] {
  const found: SecretRef[] = [];
  const walk = (value: unknown, path: (string | number)[]): void => {
    if (path.length > MAX_DEPTH) return;
    if (typeof value === 'string') {
      if (isSecretReference(value)) found.push({ path, ref: value });
      const param = WHOLE_PARAM.exec(value)?.[1];
      const fallback = param === undefined || !Object.hasOwn(params, param) ? undefined : params[param]?.default;
      if (isSecretReference(fallback)) found.push({ path, ref: fallback });
      return;
    }
    if (Array.isArray(value)) value.forEach((item: unknown, index) => walk(item, [...path, index]));
    else if (value !== null && typeof value === 'object') for (const [key, item] of Object.entries(value)) walk(item, [...path, key]);
  };
  walk(input, []);
  return found;
}

/** The call with its author-written secret references recorded (unchanged when it has none). */
export function withSecretRefs<C extends { with: Record<string, unknown> }>(call: C | undefined, params: Readonly<Record<string, ParamSpec>>): (C & { secretRefs?: SecretRef[] }) | undefined {
  if (call === undefined) return undefined;
  const secretRefs = collectSecretRefs(call.with, params);
  return secretRefs.length === 0 ? call : { ...call, secretRefs };
}

/** The references under `prefix`, with the prefix removed: a rollout check's own `with` inside the rollout task's. */
export function secretRefsUnder(refs: readonly SecretRef[] | undefined, prefix: readonly (string | number)[]): SecretRef[] {
  return (refs ?? [])
    .filter((entry) => entry.path.length > prefix.length && prefix.every((key, index) => entry.path[index] === key))
    .map((entry) => ({ path: entry.path.slice(prefix.length), ref: entry.ref }));
}
