// Pure: the schema, the compiler, the workflows and the activities all read references through this
// one grammar, so what the compiler accepts is exactly what a worker can resolve.

/**
 * A parsed reference: where a secret is read from, on the worker, when the activity that needs it
 * runs. A closed union, so a resolver that forgets a source does not compile.
 */
export type SecretSource =
  | { source: 'env'; name: string }
  | { source: 'file'; path: string }
  | { source: 'vault'; mount: string; path: string; key: string };

type ParsedSecretUri = { ok: true; secret: SecretSource } | { ok: false; problem: string };

/** The forms, for messages. */
export const SECRET_URI_FORMS = 'secret://env/NAME, secret://file/PATH or secret://vault/<mount>/<path>#<key>';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Whitespace and control characters never belong in a reference (YAML may keep a tab or newline). */
const UNPRINTABLE = /[\s\u0000-\u001f\u007f]/;
/** A segment Vault would see as something else: empty, `.`/`..` (URL normalisation climbs out of the mount), or percent-encoded. */
const BAD_VAULT_SEGMENT = (segment: string): boolean => segment === '' || segment === '.' || segment === '..' || segment.includes('%');
/** Long enough for any real path; a longer "reference" is a mistake or an attack. */
const MAX_LENGTH = 1024;

/**
 * True for a string that claims to be a secret reference: it starts with `secret:` (any case, after
 * spaces). A claim the grammar refuses is a mistake to report, never text to pass on.
 */
export function claimsSecretUri(value: unknown): value is string {
  return typeof value === 'string' && /^\s*secret:/i.test(value);
}

/** Parses `secret://<source>/…`; the problem names what is wrong and the accepted forms. */
export function parseSecretUri(text: string): ParsedSecretUri {
  const refused = (why: string): ParsedSecretUri => ({ ok: false, problem: `not a valid secret reference: ${why}; use ${SECRET_URI_FORMS}` });
  if (text.length > MAX_LENGTH) return refused(`longer than ${MAX_LENGTH} characters`);
  if (text.includes('${{')) return refused('a reference is written literally, never built from an expression (a param or output could then choose the secret)');
  if (UNPRINTABLE.test(text)) return refused('it holds whitespace or control characters');
  const scheme = /^secret:\/\/([^/]*)\/(.*)$/.exec(text);
  if (!scheme) return refused(/^\s*secret:\/\//i.test(text) && !text.startsWith('secret://') ? 'write it as secret:// in lower case, with nothing before it' : 'expected secret://<source>/…');
  const [, source = '', rest = ''] = scheme;
  switch (source) {
    case 'env':
      return ENV_NAME.test(rest) ? { ok: true, secret: { source, name: rest } } : refused(`"${rest}" is not an environment variable name`);
    case 'file':
      return rest === '' ? refused('no file path') : { ok: true, secret: { source, path: rest } };
    case 'vault': {
      const match = /^([^/#]+)\/([^#]+)#(.+)$/.exec(rest);
      if (!match) return refused('a Vault reference needs a mount, a path and a #key');
      const [, mount = '', path = '', key = ''] = match;
      if ([mount, ...path.split('/')].some(BAD_VAULT_SEGMENT)) return refused(`Vault mount and path segments are plain names (no empty, "." or ".." segment, no "%")`);
      return { ok: true, secret: { source, mount, path, key } };
    }
    default:
      return refused(`unknown secret source "${source}"`);
  }
}

/** The reference a parsed source is written as (messages name the reference, never its value). */
export function formatSecretUri(secret: SecretSource): string {
  switch (secret.source) {
    case 'env':
      return `secret://env/${secret.name}`;
    case 'file':
      return `secret://file/${secret.path}`;
    case 'vault':
      return `secret://vault/${secret.mount}/${secret.path}#${secret.key}`;
    default: {
      const never: never = secret;
      return String(never);
    }
  }
}

/** For schemas: the problem with a value that claims to be a reference, undefined for anything else. */
export function secretUriProblem(value: unknown): string | undefined {
  if (!claimsSecretUri(value)) return undefined;
  const parsed = parseSecretUri(value);
  return parsed.ok ? undefined : parsed.problem;
}

/** Problems of every string claiming to be a reference under `value`, with their paths (depth-bounded walk). */
export function secretUriProblemsIn(value: unknown, maxDepth = 64): { path: (string | number)[]; message: string }[] {
  const found: { path: (string | number)[]; message: string }[] = [];
  const walk = (current: unknown, path: (string | number)[]): void => {
    if (path.length > maxDepth) return;
    if (typeof current === 'string') {
      const problem = secretUriProblem(current);
      if (problem !== undefined) found.push({ path, message: problem });
    } else if (Array.isArray(current)) current.forEach((item: unknown, index) => walk(item, [...path, index]));
    else if (current !== null && typeof current === 'object') for (const [key, item] of Object.entries(current)) walk(item, [...path, key]);
  };
  walk(value, []);
  return found;
}
