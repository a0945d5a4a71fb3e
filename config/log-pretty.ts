/**
 * Log records as a person reads them on a terminal: `HH:MM:SS.mmm LEVEL message key=value …`, with
 * multi-line values (a failed task's output tail, a stack) below the line, indented. Values come from
 * tools and repositories, so control characters and escape sequences in them are shown, never obeyed:
 * a task's output cannot recolour, move the cursor of, or retitle the operator's terminal.
 */

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLOURS: Record<number, string> = { 10: '90', 20: '90', 30: '32', 40: '33', 50: '31', 60: '35' };
/** Fields every record has, shown in the line's own layout (or not at all) rather than as key=value. */
const LAYOUT_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v']);
const DEFAULT_NAME = 'qubinode';
const MAX_DEPTH = 4;

// C0 controls but tab and newline, DEL, C1 controls, and the bidirectional overrides that reorder text.
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Text with every control character written as a visible escape (`\x1b`, `\u202e`). */
export function neutralise(text: string): string {
  return text.replace(UNSAFE, (char) => {
    const code = char.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

export interface PrettyOptions {
  colour: boolean;
}

function paint(text: string, code: string, options: PrettyOptions): string {
  return options.colour ? `\x1b[${code}m${text}\x1b[0m` : text;
}

function clock(time: unknown): string {
  const date = new Date(typeof time === 'number' || typeof time === 'string' ? time : Date.now());
  if (Number.isNaN(date.getTime())) return '--:--:--.---';
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

/** Nested objects become dotted keys; arrays and deeper values are shown as compact JSON. */
function flatten(value: unknown, prefix: string, into: [string, unknown][], depth: number): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && depth < MAX_DEPTH) {
    for (const [key, item] of Object.entries(value)) flatten(item, prefix === '' ? key : `${prefix}.${key}`, into, depth + 1);
    return;
  }
  into.push([prefix, value]);
}

function inline(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value === undefined) return 'undefined';
  return JSON.stringify(value) ?? String(value);
}

/** One log record (pino's JSON object) as terminal text, ending in a newline. */
export function formatPretty(record: Record<string, unknown>, options: PrettyOptions): string {
  const level = typeof record.level === 'number' ? record.level : 30;
  const levelName = (LEVEL_NAMES[level] ?? String(level)).padEnd(5);
  const fields: [string, unknown][] = [];
  for (const [key, value] of Object.entries(record)) {
    if (LAYOUT_KEYS.has(key) || (key === 'name' && value === DEFAULT_NAME)) continue;
    flatten(value, key, fields, 0);
  }
  const pairs: string[] = [];
  const blocks: string[] = [];
  for (const [key, value] of fields) {
    if (typeof value === 'string' && value.includes('\n')) {
      const body = value
        .replace(/\n+$/, '')
        .split('\n')
        .map((line) => `    ${paint('│', '90', options)} ${neutralise(line)}`)
        .join('\n');
      blocks.push(`  ${paint(`${neutralise(key)}:`, '2', options)}\n${body}`);
    } else {
      pairs.push(`${paint(`${neutralise(key)}=`, '2', options)}${neutralise(inline(value))}`);
    }
  }
  const message = typeof record.msg === 'string' ? record.msg : record.msg === undefined ? '' : inline(record.msg);
  const head = [paint(clock(record.time), '90', options), paint(levelName, LEVEL_COLOURS[level] ?? '0', options), neutralise(message.replace(/\n/g, ' ⏎ ')), ...pairs]
    .filter((part) => part !== '')
    .join(' ');
  return `${[head, ...blocks].join('\n')}\n`;
}
