import { ExpressionSyntaxError } from './errors';

export type Punctuator =
  | '(' | ')' | '[' | ']' | ',' | '.' | '?' | ':'
  | '!' | '+' | '-' | '*' | '/' | '%'
  | '<' | '<=' | '>' | '>=' | '==' | '!=' | '&&' | '||';

interface TokenSpan { readonly offset: number; readonly end: number }
export type Token =
  | (TokenSpan & { readonly kind: 'number'; readonly value: number })
  | (TokenSpan & { readonly kind: 'string'; readonly value: string })
  | (TokenSpan & { readonly kind: 'identifier'; readonly name: string })
  | (TokenSpan & { readonly kind: 'punctuator'; readonly value: Punctuator })
  | (TokenSpan & { readonly kind: 'end' });

const TWO_CHAR: readonly Punctuator[] = ['<=', '>=', '==', '!=', '&&', '||'];
const ONE_CHAR: readonly Punctuator[] = ['(', ')', '[', ']', ',', '.', '?', ':', '!', '+', '-', '*', '/', '%', '<', '>'];
const ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', r: '\r', "'": "'", '"': '"', '\\': '\\' };

const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';
const isNameStart = (c: string | undefined): boolean =>
  c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_');
const isNameChar = (c: string | undefined): boolean => isNameStart(c) || isDigit(c);
const isSpace = (c: string): boolean => /\s/.test(c);

/** Splits an expression into tokens; the last token is always `end`. */
export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i] ?? '';
    if (isSpace(c)) {
      i++;
      continue;
    }
    const token = isDigit(c)
      ? readNumber(source, i)
      : isNameStart(c)
        ? readName(source, i)
        : c === '"' || c === "'"
          ? readString(source, i)
          : readPunctuator(source, i);
    tokens.push(token);
    i = token.end;
  }
  tokens.push({ kind: 'end', offset: source.length, end: source.length });
  return tokens;
}

function readNumber(source: string, start: number): Token {
  let end = start;
  while (isDigit(source[end])) end++;
  if (source[end] === '.' && isDigit(source[end + 1])) {
    end++;
    while (isDigit(source[end])) end++;
  }
  if (isNameChar(source[end])) {
    throw new ExpressionSyntaxError(`unexpected character "${source[end]}" after number`, source, end);
  }
  const value = Number(source.slice(start, end));
  if (!Number.isFinite(value)) throw new ExpressionSyntaxError('number is too large', source, start);
  return { kind: 'number', value, offset: start, end };
}

// A hyphen belongs to a name only when a letter, digit or underscore follows it, so
// `create-vm` is one identifier while `a - b` and `a -b` are subtraction.
function readName(source: string, start: number): Token {
  let end = start + 1;
  while (isNameChar(source[end]) || (source[end] === '-' && isNameChar(source[end + 1]))) end++;
  return { kind: 'identifier', name: source.slice(start, end), offset: start, end };
}

function readString(source: string, start: number): Token {
  const quote = source[start];
  let value = '';
  let i = start + 1;
  for (;;) {
    const c = source[i];
    if (c === undefined) throw new ExpressionSyntaxError('unterminated string', source, start);
    if (c === quote) return { kind: 'string', value, offset: start, end: i + 1 };
    if (c === '\\') {
      const escaped = source[i + 1];
      if (escaped === undefined) throw new ExpressionSyntaxError('unterminated string', source, start);
      const replacement = Object.prototype.hasOwnProperty.call(ESCAPES, escaped) ? ESCAPES[escaped] : undefined;
      if (replacement === undefined) {
        throw new ExpressionSyntaxError(
          `unknown escape sequence "\\${escaped}" (use \\n, \\t, \\r, \\', \\" or \\\\)`,
          source,
          i,
        );
      }
      value += replacement;
      i += 2;
      continue;
    }
    value += c;
    i++;
  }
}

function readPunctuator(source: string, start: number): Token {
  const three = source.slice(start, start + 3);
  if (three === '===' || three === '!==') {
    throw new ExpressionSyntaxError(`"${three}" is not supported; use "${three.slice(0, 2)}" (always strict)`, source, start);
  }
  const two = TWO_CHAR.find((p) => p === source.slice(start, start + 2));
  if (two !== undefined) return { kind: 'punctuator', value: two, offset: start, end: start + 2 };
  const c = source[start] ?? '';
  const one = ONE_CHAR.find((p) => p === c);
  if (one !== undefined) return { kind: 'punctuator', value: one, offset: start, end: start + 1 };
  const hint = c === '=' ? ' (use "==" to compare)' : c === '&' ? ' (did you mean "&&"?)' : c === '|' ? ' (did you mean "||"?)' : '';
  throw new ExpressionSyntaxError(`unexpected character "${c}"${hint}`, source, start);
}
