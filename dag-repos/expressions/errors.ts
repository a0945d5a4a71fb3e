/** An expression or template could not be parsed. `offset` is 0-based into `expression`. */
export class ExpressionSyntaxError extends Error {
  override readonly name = 'ExpressionSyntaxError';
  /** What is wrong, without the location (the message adds it). */
  readonly reason: string;
  /** The text that was parsed: the expression, or the whole template string. */
  readonly expression: string;
  readonly offset: number;

  constructor(reason: string, expression: string, offset: number) {
    super(`${reason} ${describeLocation(expression, offset)}`);
    this.reason = reason;
    this.expression = expression;
    this.offset = offset;
  }
}

/** A parsed expression failed while running (type mismatch, division by zero, bad function argument). */
export class ExpressionEvaluationError extends Error {
  override readonly name = 'ExpressionEvaluationError';
  readonly reason: string;
  /** The expression source, or '' when the caller did not pass one. */
  readonly expression: string;
  /** 0-based offset of the failing operator or call in `expression`. */
  readonly offset: number | undefined;

  constructor(reason: string, expression: string, offset?: number) {
    super(expression === '' ? reason : `${reason} ${describeLocation(expression, offset ?? 0)}`);
    this.reason = reason;
    this.expression = expression;
    this.offset = offset;
  }
}

const MAX_EXCERPT = 80;

// Templates can be whole shell scripts, so a multi-line text is reported by line and
// column and only the offending line is quoted (shortened around the column if long).
function describeLocation(text: string, offset: number): string {
  const lineStart = offset === 0 ? 0 : text.lastIndexOf('\n', offset - 1) + 1;
  const newline = text.indexOf('\n', lineStart);
  const lineEnd = newline < 0 ? text.length : newline;
  const column = offset - lineStart + 1;
  const multiLine = text.includes('\n');
  const where = multiLine ? `line ${countLines(text, lineStart)}, column ${column}` : `column ${column}`;
  return `at ${where} in "${excerpt(text.slice(lineStart, lineEnd), column - 1)}"`;
}

function countLines(text: string, end: number): number {
  let lines = 1;
  for (let i = 0; i < end; i++) if (text[i] === '\n') lines++;
  return lines;
}

function excerpt(line: string, index: number): string {
  if (line.length <= MAX_EXCERPT) return line;
  const half = MAX_EXCERPT / 2;
  const start = Math.max(0, Math.min(index - half, line.length - MAX_EXCERPT));
  const end = start + MAX_EXCERPT;
  return `${start > 0 ? '…' : ''}${line.slice(start, end)}${end < line.length ? '…' : ''}`;
}
