import type { Expr } from './ast';
import { ExpressionSyntaxError } from './errors';
import { evaluateExpression } from './evaluate';
import type { ExpressionScope } from './evaluate';
import { parseExpression } from './parser';
import { toText } from './values';

/**
 * One piece of a template string. For `expr` parts, `source` is the trimmed text inside
 * `${{ }}` and `offset` is where that text starts in the whole string, so
 * `offset + node.offset` locates any AST node in the original string.
 */
export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'expr'; readonly source: string; readonly expr: Expr; readonly offset: number };

const OPEN = '${{';
const CLOSE = '}}';

/** True when `text` contains `${{` (even an unterminated one: parsing will then report it). */
export function hasTemplate(text: string): boolean {
  return text.includes(OPEN);
}

/**
 * Splits a string into text and parsed `${{ expr }}` parts. Throws ExpressionSyntaxError whose
 * `expression` is the whole string and `offset` is relative to it; an unterminated `${{` is an error.
 * `}}` inside a quoted string within the expression does not close it.
 */
export function parseTemplate(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let cursor = 0;
  for (let open = text.indexOf(OPEN); open >= 0; open = text.indexOf(OPEN, cursor)) {
    if (open > cursor) parts.push({ kind: 'text', text: text.slice(cursor, open) });
    const innerStart = open + OPEN.length;
    const close = findClose(text, innerStart, open);
    const raw = text.slice(innerStart, close);
    const source = raw.trim();
    if (source === '') throw new ExpressionSyntaxError('empty expression in "${{ }}"', text, open);
    const offset = innerStart + (raw.length - raw.trimStart().length);
    parts.push({ kind: 'expr', source, expr: parseAt(source, text, offset), offset });
    cursor = close + CLOSE.length;
  }
  if (cursor < text.length) parts.push({ kind: 'text', text: text.slice(cursor) });
  return parts;
}

/**
 * Renders a template. A string that is exactly one `${{ expr }}` (whitespace around it allowed)
 * returns the raw value, keeping numbers, arrays and objects. Otherwise each value is spliced in:
 * strings as-is, null/undefined as '', numbers/booleans via String, arrays/objects as JSON.
 * A string without `${{` is returned unchanged.
 */
export function renderTemplate(text: string, scope: ExpressionScope): unknown {
  if (!hasTemplate(text)) return text;
  const parts = parseTemplate(text);
  const whole = wholeExpression(parts);
  if (whole !== undefined) return evaluateExpression(whole.expr, scope, whole.source);
  return parts
    .map((part) => (part.kind === 'text' ? part.text : toText(evaluateExpression(part.expr, scope, part.source))))
    .join('');
}

function wholeExpression(parts: readonly TemplatePart[]): Extract<TemplatePart, { kind: 'expr' }> | undefined {
  const exprs = parts.filter((part): part is Extract<TemplatePart, { kind: 'expr' }> => part.kind === 'expr');
  const onlyBlankText = parts.every((part) => part.kind === 'expr' || part.text.trim() === '');
  return exprs.length === 1 && onlyBlankText ? exprs[0] : undefined;
}

// Index of the `}}` that closes the expression starting at `from`, skipping quoted strings.
function findClose(text: string, from: number, open: number): number {
  let quoteAt = -1;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (quoteAt >= 0) {
      if (c === '\\') i++;
      else if (c === text[quoteAt]) quoteAt = -1;
    } else if (c === '"' || c === "'") {
      quoteAt = i;
    } else if (c === '}' && text[i + 1] === '}') {
      return i;
    }
  }
  if (quoteAt >= 0) throw new ExpressionSyntaxError('unterminated string', text, quoteAt);
  throw new ExpressionSyntaxError('unterminated "${{" (no closing "}}")', text, open);
}

// Re-anchors syntax errors from the inner expression onto the whole template string.
function parseAt(source: string, text: string, offset: number): Expr {
  try {
    return parseExpression(source);
  } catch (error) {
    if (error instanceof ExpressionSyntaxError) throw new ExpressionSyntaxError(error.reason, text, offset + error.offset);
    throw error;
  }
}
