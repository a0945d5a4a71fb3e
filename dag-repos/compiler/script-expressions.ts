// Pure: part of the compiler, which runs inside workflows.
//
// A `${{ }}` in a shell script used to be spliced into the script text, so a param such as
// `h1'; touch /tmp/x; echo '` became shell code. The compiler now moves every expression of a
// script into an environment variable of the task and leaves a variable reference in its place;
// env values are rendered and handed to the process as environment, never parsed by a shell.
import { ExpressionSyntaxError, isPlainObject, parseTemplate } from '../expressions';
import { placeHoles, type HolePlacement, type RefusalReason, type ScriptUnit } from './shell-context';
import type { DocPath } from './source-map';

/** Prefix of the environment variables that carry expressions into scripts; a DAG's own `env` may not use it. */
export const SCRIPT_ENV_PREFIX = 'QN_EXPR_';

/** Shells that read `${NAME}` as POSIX shells do. */
const POSIX_SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'yash']);

/** Where in a string a problem is: the `occurrence`-th (0-based) appearance of `needle`. */
export interface StringSpot {
  needle: string;
  occurrence: number;
}

/** A script input that cannot be made safe; `path` is relative to the action's `with`. */
export interface ScriptProblem {
  path: DocPath;
  message: string;
  spot?: StringSpot;
  /** Point at the key of `path` rather than its value. */
  atKey?: boolean;
}

export interface ProtectedInput {
  with: Record<string, unknown>;
  problems: ScriptProblem[];
}

/** What a hole stands for: an expression of the DAG, or a rollout placeholder (`{target}`) filled per target. */
type HoleSource = { kind: 'expr'; source: string; occurrence: number } | { kind: 'placeholder'; name: string; occurrence: number };

/**
 * The `with` of an action call with every expression in a shell script moved into environment
 * variables (for `shell`, and for the shell checks and hooks nested in a `rollout`). Other actions
 * pass through unchanged.
 */
export function protectScripts(action: string, input: Record<string, unknown>): ProtectedInput {
  if (action === 'shell') return protectShellInput(input, []);
  if (action === 'rollout') return protectRolloutInput(input);
  return { with: input, problems: [] };
}

function protectRolloutInput(input: Record<string, unknown>): ProtectedInput {
  const problems: ScriptProblem[] = [];
  const out: Record<string, unknown> = { ...input };
  // Checks run once per target with "{target}" and "{queue}" replaced in every string: in a script
  // those are values too.
  const analysis = input.analysis;
  if (isPlainObject(analysis) && Array.isArray(analysis.checks)) {
    const checks = analysis.checks.map((check: unknown, index) => nestedCall(check, ['analysis', 'checks', index], ['target', 'queue'], problems));
    out.analysis = { ...analysis, checks };
  }
  for (const hook of ['switch', 'switchBack']) {
    if (input[hook] !== undefined) out[hook] = nestedCall(input[hook], [hook], [], problems);
  }
  return { with: out, problems };
}

function nestedCall(call: unknown, at: DocPath, placeholders: readonly string[], problems: ScriptProblem[]): unknown {
  if (!isPlainObject(call) || call.uses !== 'shell' || !isPlainObject(call.with)) return call;
  const inner = protectShellInput(call.with, placeholders);
  problems.push(...inner.problems.map((problem) => ({ ...problem, path: [...at, 'with', ...problem.path] })));
  return { ...call, with: inner.with };
}

function protectShellInput(input: Record<string, unknown>, placeholders: readonly string[]): ProtectedInput {
  const problems: ScriptProblem[] = [];
  const env = input.env;
  if (isPlainObject(env)) {
    for (const key of Object.keys(env)) {
      if (key.startsWith(SCRIPT_ENV_PREFIX)) {
        problems.push({ path: ['env', key], message: `environment variable names starting with ${SCRIPT_ENV_PREFIX} are reserved for values the engine passes into scripts; rename "${key}"`, atKey: true });
      }
    }
  }
  if (typeof input.shell === 'string' && input.shell.includes('${{')) {
    problems.push({ path: ['shell'], message: 'the shell must be written literally, not chosen by an expression', spot: { needle: '${{', occurrence: 0 } });
  }
  if (Array.isArray(input.command)) problems.push(...shellCommandProblems(input.command));
  if (typeof input.script !== 'string') return { with: input, problems };

  const units = scriptUnits(input.script, placeholders);
  if (units === undefined) return { with: input, problems };
  const holes = units.filter((unit): unit is { hole: HoleSource } => typeof unit !== 'string');
  if (holes.length === 0) return { with: input, problems };

  const shell = typeof input.shell === 'string' ? input.shell : '/bin/bash';
  const shellName = shell.split('/').pop() ?? shell;
  if (!shell.includes('${{') && !POSIX_SHELLS.has(shellName)) {
    const first = holes[0]?.hole as HoleSource;
    problems.push({
      path: ['script'],
      message: `expressions in a script need a POSIX shell (${[...POSIX_SHELLS].join(', ')}), not "${shell}"; pass the value through env instead (${safeForm(first).env}) and read ${safeForm(first).name} from the environment in the script`,
      spot: spotOf(first),
    });
    return { with: input, problems };
  }
  if (env !== undefined && !isPlainObject(env)) {
    problems.push({ path: ['env'], message: 'env must be a mapping written in the DAG when the script uses expressions (the engine adds the values of those expressions to it)' });
    return { with: input, problems };
  }

  const names = new Map<string, string>();
  const added: Record<string, string> = {};
  let exprVars = 0;
  const nameOf = (hole: HoleSource, numeric: boolean): string => {
    const key = hole.kind === 'expr' ? `expr:${numeric ? 'number' : 'text'}:${hole.source}` : `placeholder:${hole.name}`;
    let name = names.get(key);
    if (name === undefined) {
      name = hole.kind === 'expr' ? `${SCRIPT_ENV_PREFIX}${++exprVars}` : `${SCRIPT_ENV_PREFIX}${hole.name.toUpperCase()}`;
      names.set(key, name);
      // format() turns any value into text exactly as splicing into a string did (objects as JSON).
      // Shell arithmetic evaluates the text it is given (a[$(cmd)] runs cmd), so there the value must be a number.
      added[name] = hole.kind === 'placeholder' ? `{${hole.name}}` : `\${{ format('{0}', ${numeric ? `toNumber((${hole.source}))` : `(${hole.source})`}) }}`;
    }
    return name;
  };

  const placements = placeHoles(units);
  let script = '';
  let holeIndex = 0;
  for (const unit of units) {
    if (typeof unit === 'string') {
      script += unit;
      continue;
    }
    const placement = placements[holeIndex++] as HolePlacement;
    if (placement.kind === 'number' && unit.hole.kind === 'placeholder') {
      problems.push({ path: ['script'], message: `{${unit.hole.name}} is inside shell arithmetic, which evaluates text as an expression (and can run commands); a target name is not a number`, spot: spotOf(unit.hole) });
      continue;
    }
    if (placement.kind === 'refuse') {
      problems.push({ path: ['script'], message: refusalMessage(placement.why, unit.hole), spot: spotOf(unit.hole) });
      continue;
    }
    const name = nameOf(unit.hole, placement.kind === 'number');
    script += placement.kind === 'quote' ? `"\${${name}}"` : `\${${name}}`;
  }
  if (problems.length > 0) return { with: input, problems };
  return { with: { ...input, script, env: { ...(env ?? {}), ...added } }, problems };
}

/** The script as characters and holes; undefined when an expression does not parse (reported elsewhere). */
function scriptUnits(script: string, placeholders: readonly string[]): ScriptUnit<HoleSource>[] | undefined {
  let parts;
  try {
    parts = parseTemplate(script);
  } catch (error) {
    if (error instanceof ExpressionSyntaxError) return undefined;
    throw error;
  }
  const units: ScriptUnit<HoleSource>[] = [];
  const seen = new Map<string, number>();
  let exprCount = 0;
  const marker = placeholders.length > 0 ? new RegExp(`\\{(${placeholders.join('|')})\\}`, 'g') : undefined;
  for (const part of parts) {
    if (part.kind === 'expr') {
      units.push({ hole: { kind: 'expr', source: part.source, occurrence: exprCount++ } });
      continue;
    }
    let cursor = 0;
    // One push per character: spreading a long script into push() would overflow the call stack.
    const text = (from: number, to: number): void => {
      for (let k = from; k < to; k++) units.push(part.text.charAt(k));
    };
    for (const match of marker ? part.text.matchAll(marker) : []) {
      const name = match[1] as string;
      text(cursor, match.index);
      const occurrence = seen.get(name) ?? 0;
      seen.set(name, occurrence + 1);
      units.push({ hole: { kind: 'placeholder', name, occurrence } });
      cursor = match.index + match[0].length;
    }
    text(cursor, part.text.length);
  }
  return units;
}

/** `[bash, -c, SCRIPT, …]`: the script argument is shell code, so an expression in it would be spliced. */
function shellCommandProblems(command: readonly unknown[]): ScriptProblem[] {
  const [program, ...args] = command;
  if (typeof program !== 'string' || !POSIX_SHELLS.has(program.split('/').pop() ?? '')) return [];
  let takesScript = false;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    if (typeof arg !== 'string') return [];
    if (arg === '--') continue;
    if (arg === '-o' || arg === '+o') {
      index++;
      continue;
    }
    if (/^[-+][a-zA-Z]+$/.test(arg)) {
      takesScript ||= arg.includes('c');
      continue;
    }
    if (!takesScript || !arg.includes('${{')) return [];
    return [{ path: ['command', index + 1], message: `the argument after ${program} ${args.slice(0, index).join(' ')} is shell code, so an expression in it would run as code; use script: instead (it passes expressions as environment variables) or pass the value as a positional argument and read it as "$1"`, spot: { needle: '${{', occurrence: 0 } }];
  }
  return [];
}

function refusalMessage(why: RefusalReason, hole: HoleSource): string {
  const what = hole.kind === 'expr' ? `\${{ ${hole.source} }}` : `{${hole.name}}`;
  const safe = safeForm(hole);
  const fix = `pass it through env (${safe.env}) and write "$${safe.name}" in the script`;
  switch (why) {
    case 'single-quotes':
      return `${what} is inside single quotes, where the shell cannot read a variable; close the quotes around it ('…'"$${safe.name}"'…') and ${fix}`;
    case 'quoted-heredoc':
      return `${what} is inside a here-document with a quoted delimiter, where the shell does not expand variables; unquote the delimiter or ${fix} outside it`;
    case 'after-backslash':
      return `${what} follows a backslash; remove the backslash (the value is passed as a variable, not as text to escape)`;
    case 'after-dollar':
      return `${what} follows "$": a script cannot name a variable by an expression; ${fix}`;
    case 'variable-name':
      return `${what} names a variable inside \${…}: a script cannot name a variable by an expression; ${fix}`;
    case 'heredoc-delimiter':
      return `${what} is a here-document delimiter; write the delimiter literally`;
    default:
      return assertNever(why);
  }
}

/** The form a DAG author can write by hand: `env: {TARGET: "${{ params.target }}"}`, then `"$TARGET"` in the script. */
function safeForm(hole: HoleSource): { name: string; env: string } {
  if (hole.kind === 'placeholder') {
    const name = hole.name.toUpperCase();
    return { name, env: `env: {${name}: "{${hole.name}}"}` };
  }
  const last = /([A-Za-z_][\w-]*)\s*$/.exec(hole.source)?.[1];
  const name = (last ?? 'value').replace(/-/g, '_').toUpperCase();
  return { name, env: `env: {${name}: "\${{ ${hole.source} }}"}` };
}

function spotOf(hole: HoleSource): StringSpot {
  return hole.kind === 'expr' ? { needle: '${{', occurrence: hole.occurrence } : { needle: `{${hole.name}}`, occurrence: hole.occurrence };
}

function assertNever(value: never): never {
  throw new Error(`unhandled refusal ${String(value)}`);
}
