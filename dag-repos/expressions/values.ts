// Value helpers shared by evaluation, functions and templates. Expressions only ever look
// at JSON-like data: primitives, arrays and plain objects.

export function hasOwn(target: object, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(target, key);
}

/** True for `{}`-style objects (any realm, or null prototype); false for arrays, Dates, Maps, class instances. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  // Comparing with this realm's Object.prototype would reject objects built in another
  // realm (Temporal runs workflow code in its own V8 context), so check the shape instead.
  return proto === null || Object.getPrototypeOf(proto) === null;
}

export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

export function isTruthy(value: unknown): boolean {
  return Boolean(value);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((key) => hasOwn(b, key) && deepEqual(a[key], b[key]));
  }
  return false;
}

/** How a value reads when spliced into text: strings as-is, null/undefined as '', objects as JSON. */
export function toText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * Reads `target[key]` without ever reaching a prototype: only own properties of arrays and
 * plain objects, plus `length` of strings. Anything else (including null) yields undefined.
 */
export function readProperty(target: unknown, key: string): unknown {
  if (typeof target === 'string') return key === 'length' ? target.length : undefined;
  if (!Array.isArray(target) && !isPlainObject(target)) return undefined;
  return hasOwn(target, key) ? (target as Readonly<Record<string, unknown>>)[key] : undefined;
}

/** Sets an own data property; plain assignment of `__proto__` would change the prototype instead. */
export function defineValue(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
