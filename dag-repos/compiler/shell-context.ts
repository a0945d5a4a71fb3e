// Pure: the compiler runs inside workflows. Knows just enough POSIX shell syntax to tell, for each
// hole left in a script, whether the shell would read a variable written there as one word, as part
// of a quoted string, or not at all.
//
// Getting a context wrong never turns a value into code: a hole always becomes a variable reference,
// and the shell does not parse the value of a variable again. A wrong guess only changes quoting
// (word splitting) or, for a false "single quotes", refuses a script that was fine.

/** A place in a script where a value goes. `T` is whatever the caller needs to name it. */
export interface Hole<T> {
  readonly hole: T;
}

/** A script as characters and holes, in order. */
export type ScriptUnit<T> = string | Hole<T>;

/** How a hole may be written into the script. */
export type HolePlacement =
  /** Unquoted context: write `"${NAME}"` so the value stays one word. */
  | { readonly kind: 'quote' }
  /** Inside double quotes, an unquoted here-document or a comment: write `${NAME}`. */
  | { readonly kind: 'bare' }
  /** Inside shell arithmetic, which evaluates the text of a variable: write `${NAME}`, and the value must be a number. */
  | { readonly kind: 'number' }
  /** The shell cannot read a variable here, or would evaluate its value. */
  | { readonly kind: 'refuse'; readonly why: RefusalReason };

export type RefusalReason =
  | 'single-quotes'
  | 'quoted-heredoc'
  | 'after-backslash'
  | 'after-dollar'
  | 'variable-name'
  | 'heredoc-delimiter';

type FrameKind = 'plain' | 'command' | 'backtick' | 'param' | 'double' | 'single' | 'ansi' | 'arith' | 'comment' | 'heredoc';

interface Frame {
  kind: FrameKind;
  /** Open parentheses inside `$(`…`)` or `((`…`))`. */
  depth: number;
  heredoc?: Heredoc;
  atLineStart?: boolean;
  /** Where the frame's body starts (for `${` name position). */
  start: number;
}

interface Heredoc {
  delimiter: string;
  stripTabs: boolean;
  quoted: boolean;
}

const WORD_BREAK = new Set([' ', '\t', '\n', ';', '&', '|', '(', ')', '<', '>']);
const COMMENT_AFTER = new Set([' ', '\t', '\n', ';', '&', '|', '(', ')']);

/** Placement of every hole in `units`, in order of appearance. */
export function placeHoles<T>(units: readonly ScriptUnit<T>[]): HolePlacement[] {
  return new ShellScanner(units).run();
}

class ShellScanner<T> {
  private readonly stack: Frame[] = [{ kind: 'plain', depth: 0, start: 0 }];
  private readonly pending: Heredoc[] = [];
  private readonly placements: HolePlacement[] = [];
  private i = 0;

  constructor(private readonly units: readonly ScriptUnit<T>[]) {}

  run(): HolePlacement[] {
    while (this.i < this.units.length) {
      const unit = this.units[this.i];
      if (typeof unit !== 'string') {
        this.placements.push(this.placeHole());
        this.i++;
        continue;
      }
      this.step(unit);
    }
    return this.placements;
  }

  private get frame(): Frame {
    return this.stack[this.stack.length - 1] as Frame;
  }

  private char(at: number): string | undefined {
    const unit = this.units[at];
    return typeof unit === 'string' ? unit : undefined;
  }

  private push(kind: FrameKind, width: number, extra: Partial<Frame> = {}): void {
    this.i += width;
    this.stack.push({ kind, depth: 0, start: this.i, ...extra });
  }

  private pop(width: number): void {
    this.i += width;
    if (this.stack.length > 1) this.stack.pop();
  }

  private placeHole(): HolePlacement {
    const before = this.char(this.i - 1);
    const frame = this.frame;
    switch (frame.kind) {
      case 'single':
      case 'ansi':
        return refuse('single-quotes');
      case 'arith':
        return { kind: 'number' };
      case 'comment':
        return { kind: 'bare' };
      case 'heredoc':
        if (frame.heredoc?.quoted) return refuse('quoted-heredoc');
        break;
      case 'param':
        if (this.i === frame.start) return refuse('variable-name');
        break;
      case 'plain':
      case 'command':
      case 'backtick':
      case 'double':
        break;
      default:
        return assertNever(frame.kind);
    }
    if (before === '\\' && !this.escapedItself(this.i - 1)) return refuse('after-backslash');
    if (before === '$') return refuse('after-dollar');
    return this.insideQuotes() ? { kind: 'bare' } : { kind: 'quote' };
  }

  // True when the backslash at `at` is itself escaped (`\\`), so it does not touch what follows.
  private escapedItself(at: number): boolean {
    let count = 0;
    for (let k = at; k >= 0 && this.char(k) === '\\'; k--) count++;
    return count % 2 === 0;
  }

  /** Whether the innermost word-splitting context is a double-quoted one. */
  private insideQuotes(): boolean {
    for (let k = this.stack.length - 1; k >= 0; k--) {
      const kind = this.stack[k]?.kind;
      if (kind === 'double' || kind === 'heredoc') return true;
      if (kind !== 'param') return false;
    }
    return false;
  }

  private step(c: string): void {
    const frame = this.frame;
    if (frame.kind === 'heredoc' && frame.atLineStart) {
      frame.atLineStart = false;
      if (this.endsHeredoc(frame.heredoc as Heredoc)) return;
    }
    switch (frame.kind) {
      case 'single':
        if (c === "'") this.pop(1);
        else this.i++;
        return;
      case 'ansi':
        if (c === '\\') this.i += 2;
        else if (c === "'") this.pop(1);
        else this.i++;
        return;
      case 'comment':
        if (c === '\n') this.pop(0);
        else this.i++;
        return;
      case 'arith':
        return this.arith(c, frame);
      case 'double':
        if (c === '"') return this.pop(1);
        if (!this.expansion(c, false)) this.i++;
        return;
      case 'heredoc':
        if (c === '\n') frame.atLineStart = true;
        if (frame.heredoc?.quoted || !this.expansion(c, false)) this.i++;
        return;
      case 'plain':
      case 'command':
      case 'backtick':
      case 'param':
        return this.plain(c, frame);
      default:
        return assertNever(frame.kind);
    }
  }

  private arith(c: string, frame: Frame): void {
    if (c === '(') frame.depth++;
    else if (c === ')') {
      if (frame.depth === 0) return this.pop(this.char(this.i + 1) === ')' ? 2 : 1);
      frame.depth--;
    }
    this.i++;
  }

  /** `\x`, `$'…'`, `$((`, `$(`, `${` and backquotes: shared by every context that expands. Returns whether it consumed. */
  private expansion(c: string, unquoted: boolean): boolean {
    if (c === '\\') {
      // A backslash before a hole is judged by placeHole, so only step over characters.
      this.i += typeof this.units[this.i + 1] === 'string' ? 2 : 1;
      return true;
    }
    if (c === '`') {
      if (this.frame.kind === 'backtick') this.pop(1);
      else this.push('backtick', 1);
      return true;
    }
    if (c !== '$') return false;
    const next = this.char(this.i + 1);
    if (next === "'" && unquoted) this.push('ansi', 2);
    else if (next === '(' && this.char(this.i + 2) === '(') this.push('arith', 3);
    else if (next === '(') this.push('command', 2);
    else if (next === '{') this.push('param', 2);
    else return false;
    return true;
  }

  private plain(c: string, frame: Frame): void {
    const quotedParam = frame.kind === 'param' && this.insideQuotes();
    if (this.expansion(c, !quotedParam)) return;
    const before = this.char(this.i - 1);
    if (c === "'" && !quotedParam) return this.push('single', 1);
    if (c === '"') return this.push('double', 1);
    if (frame.kind === 'param') {
      if (c === '}') return this.pop(1);
      this.i++;
      return;
    }
    if (c === '#' && (this.i === 0 || (before !== undefined && COMMENT_AFTER.has(before)))) return this.push('comment', 1);
    if (c === '(' && this.char(this.i + 1) === '(' && before !== '$') return this.push('arith', 2);
    if (c === '<' && this.char(this.i + 1) === '<' && this.char(this.i + 2) !== '<' && before !== '<') return this.heredocOperator();
    if (c === '\n' && this.pending.length > 0) {
      this.i++;
      this.startHeredoc();
      return;
    }
    if (frame.kind === 'command') {
      if (c === '(') frame.depth++;
      else if (c === ')') {
        if (frame.depth === 0) return this.pop(1);
        frame.depth--;
      }
    }
    this.i++;
  }

  private startHeredoc(): void {
    const heredoc = this.pending.shift();
    if (heredoc) this.stack.push({ kind: 'heredoc', depth: 0, start: this.i, heredoc, atLineStart: true });
  }

  /** `<<WORD` or `<<-WORD`: remembers the here-document that starts on the next line. */
  private heredocOperator(): void {
    this.i += 2;
    let stripTabs = false;
    if (this.char(this.i) === '-') {
      stripTabs = true;
      this.i++;
    }
    while (this.char(this.i) === ' ' || this.char(this.i) === '\t') this.i++;
    let delimiter = '';
    let quoted = false;
    let quote: string | undefined;
    for (; this.i < this.units.length; this.i++) {
      const unit = this.units[this.i];
      if (typeof unit !== 'string') {
        this.placements.push(refuse('heredoc-delimiter'));
        continue;
      }
      if (quote !== undefined) {
        if (unit === quote) quote = undefined;
        else delimiter += unit;
      } else if (unit === "'" || unit === '"') {
        quote = unit;
        quoted = true;
      } else if (unit === '\\') {
        quoted = true;
      } else if (WORD_BREAK.has(unit)) {
        break;
      } else {
        delimiter += unit;
      }
    }
    if (delimiter !== '') this.pending.push({ delimiter, stripTabs, quoted });
  }

  /** At the start of a here-document line: when it is the delimiter line, ends the document. */
  private endsHeredoc(heredoc: Heredoc): boolean {
    let end = this.i;
    let text = '';
    for (; end < this.units.length; end++) {
      const unit = this.units[end];
      if (typeof unit !== 'string') return false;
      if (unit === '\n') break;
      text += unit;
    }
    const line = heredoc.stripTabs ? text.replace(/^\t+/, '') : text;
    if (line !== heredoc.delimiter) return false;
    this.i = Math.min(end + 1, this.units.length);
    this.stack.pop();
    this.startHeredoc();
    return true;
  }
}

function refuse(why: RefusalReason): HolePlacement {
  return { kind: 'refuse', why };
}

function assertNever(value: never): never {
  throw new Error(`unhandled shell context ${String(value)}`);
}
