import { assertNever } from './ast';
import type { BinaryOperator, Expr, LiteralValue, LogicalOperator } from './ast';
import { ExpressionSyntaxError } from './errors';
import { EXPRESSION_FUNCTIONS, lookupFunction } from './functions';
import { tokenize } from './lexer';
import type { Punctuator, Token } from './lexer';

type InfixOperator = LogicalOperator | BinaryOperator;

// Binary precedence, lowest first; the ternary sits below these and unary above them.
const LEVELS: readonly (readonly InfixOperator[])[] = [
  ['||'],
  ['&&'],
  ['==', '!='],
  ['<', '<=', '>', '>='],
  ['+', '-'],
  ['*', '/', '%'],
];

const KEYWORDS: Readonly<Record<string, LiteralValue>> = { true: true, false: false, null: null };

/**
 * Deepest expression tree accepted. Expressions come from pushed DAG files and every later step
 * (reference checks, evaluation) walks the tree recursively, so `((((…` or `!!!!…` or a chain of
 * thousands of `+` must end as a syntax error here, never as a stack overflow there.
 */
export const MAX_EXPRESSION_DEPTH = 100;

/**
 * Parses the text inside `${{ }}` into an AST. Throws ExpressionSyntaxError with the
 * 0-based offset of the problem, including for calls to functions outside the whitelist.
 */
export function parseExpression(source: string): Expr {
  const expr = new Parser(source, tokenize(source)).parseRoot();
  const tooDeep = nodeBeyondDepth(expr);
  if (tooDeep !== undefined) throw new ExpressionSyntaxError(`expression nested more than ${MAX_EXPRESSION_DEPTH} levels deep`, source, tooDeep.offset);
  return expr;
}

function childrenOf(expr: Expr): readonly Expr[] {
  switch (expr.kind) {
    case 'literal':
    case 'identifier':
      return [];
    case 'array':
      return expr.elements;
    case 'member':
      return [expr.object];
    case 'index':
      return [expr.object, expr.index];
    case 'call':
      return expr.args;
    case 'unary':
      return [expr.operand];
    case 'logical':
    case 'binary':
      return [expr.left, expr.right];
    case 'conditional':
      return [expr.test, expr.consequent, expr.alternate];
    default:
      return assertNever(expr);
  }
}

// Iterative, since the tree being measured may be the deep one: operator and member chains are built in loops.
function nodeBeyondDepth(root: Expr): Expr | undefined {
  const pending: { expr: Expr; depth: number }[] = [{ expr: root, depth: 1 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next.depth > MAX_EXPRESSION_DEPTH) return next.expr;
    for (const child of childrenOf(next.expr)) pending.push({ expr: child, depth: next.depth + 1 });
  }
  return undefined;
}

class Parser {
  private index = 0;
  // Recursion through brackets, parentheses, calls, ternaries and unary operators; bounded so parsing itself cannot overflow.
  private depth = 0;
  private readonly endToken: Token;

  constructor(
    private readonly source: string,
    private readonly tokens: readonly Token[],
  ) {
    this.endToken = { kind: 'end', offset: source.length, end: source.length };
  }

  parseRoot(): Expr {
    if (this.peek().kind === 'end') throw this.error('empty expression', 0);
    const expr = this.parseConditional();
    const next = this.peek();
    if (next.kind !== 'end') throw this.unexpected(next);
    return expr;
  }

  private parseConditional(): Expr {
    return this.nested(() => this.parseConditionalAt());
  }

  private parseConditionalAt(): Expr {
    const test = this.parseInfix(0);
    const question = this.eat('?');
    if (question === undefined) return test;
    const consequent = this.parseConditional();
    this.expect(':');
    const alternate = this.parseConditional();
    return { kind: 'conditional', test, consequent, alternate, offset: question.offset };
  }

  private parseInfix(level: number): Expr {
    const operators = LEVELS[level];
    if (operators === undefined) return this.parseUnary();
    let left = this.parseInfix(level + 1);
    for (;;) {
      const token = this.peek();
      const operator = token.kind === 'punctuator' ? operators.find((op) => op === token.value) : undefined;
      if (operator === undefined) return left;
      this.index++;
      const right = this.parseInfix(level + 1);
      left =
        operator === '&&' || operator === '||'
          ? { kind: 'logical', operator, left, right, offset: token.offset }
          : { kind: 'binary', operator, left, right, offset: token.offset };
    }
  }

  private parseUnary(): Expr {
    const token = this.peek();
    if (token.kind === 'punctuator' && (token.value === '!' || token.value === '-')) {
      this.index++;
      return { kind: 'unary', operator: token.value, operand: this.nested(() => this.parseUnary()), offset: token.offset };
    }
    return this.parsePostfix();
  }

  private parsePostfix(): Expr {
    let expr = this.parsePrimary();
    for (;;) {
      if (this.eat('.') !== undefined) {
        const name = this.peek();
        if (name.kind !== 'identifier') {
          throw this.error(`expected a property name after "." but found ${this.describe(name)}`, name.offset);
        }
        this.index++;
        expr = { kind: 'member', object: expr, property: name.name, offset: name.offset };
        continue;
      }
      const bracket = this.eat('[');
      if (bracket !== undefined) {
        const index = this.parseConditional();
        this.expect(']');
        expr = { kind: 'index', object: expr, index, offset: bracket.offset };
        continue;
      }
      const paren = this.peek();
      if (paren.kind === 'punctuator' && paren.value === '(') {
        throw this.error('only functions can be called, by name, e.g. upper(params.name)', paren.offset);
      }
      return expr;
    }
  }

  private parsePrimary(): Expr {
    const token = this.peek();
    switch (token.kind) {
      case 'number':
      case 'string':
        this.index++;
        return { kind: 'literal', value: token.value, offset: token.offset };
      case 'identifier': {
        this.index++;
        if (Object.prototype.hasOwnProperty.call(KEYWORDS, token.name)) {
          return { kind: 'literal', value: KEYWORDS[token.name] ?? null, offset: token.offset };
        }
        const next = this.peek();
        if (next.kind === 'punctuator' && next.value === '(') return this.parseCall(token.name, token.offset);
        return { kind: 'identifier', name: token.name, offset: token.offset };
      }
      case 'punctuator':
        if (token.value === '(') {
          this.index++;
          const inner = this.parseConditional();
          this.expect(')');
          return inner;
        }
        if (token.value === '[') {
          this.index++;
          return { kind: 'array', elements: this.parseList(']'), offset: token.offset };
        }
        throw this.unexpected(token);
      case 'end':
        throw this.unexpected(token);
    }
  }

  private parseCall(name: string, offset: number): Expr {
    const fn = lookupFunction(name);
    if (fn === undefined) {
      throw this.error(`unknown function "${name}" (known functions: ${EXPRESSION_FUNCTIONS.join(', ')})`, offset);
    }
    this.expect('(');
    const args = this.parseList(')');
    if (args.length < fn.minArgs || args.length > fn.maxArgs) {
      const expected =
        fn.maxArgs === Infinity
          ? `at least ${fn.minArgs}`
          : fn.minArgs === fn.maxArgs
            ? `${fn.minArgs}`
            : `${fn.minArgs} to ${fn.maxArgs}`;
      throw this.error(`function "${name}" takes ${expected} argument(s) but got ${args.length}`, offset);
    }
    return { kind: 'call', name, args, offset };
  }

  // Comma-separated expressions up to `close`; a trailing comma is allowed.
  private parseList(close: ')' | ']'): Expr[] {
    const items: Expr[] = [];
    if (this.eat(close) !== undefined) return items;
    for (;;) {
      items.push(this.parseConditional());
      if (this.eat(',') !== undefined) {
        if (this.eat(close) !== undefined) return items;
        continue;
      }
      if (this.eat(close) !== undefined) return items;
      const token = this.peek();
      throw this.error(`expected "," or "${close}" but found ${this.describe(token)}`, token.offset);
    }
  }

  private nested(read: () => Expr): Expr {
    if (this.depth >= MAX_EXPRESSION_DEPTH) throw this.error(`expression nested more than ${MAX_EXPRESSION_DEPTH} levels deep`, this.peek().offset);
    this.depth++;
    try {
      return read();
    } finally {
      this.depth--;
    }
  }

  private peek(): Token {
    return this.tokens[this.index] ?? this.endToken;
  }

  private eat(value: Punctuator): Token | undefined {
    const token = this.peek();
    if (token.kind !== 'punctuator' || token.value !== value) return undefined;
    this.index++;
    return token;
  }

  private expect(value: Punctuator): Token {
    const token = this.eat(value);
    if (token !== undefined) return token;
    const found = this.peek();
    throw this.error(`expected "${value}" but found ${this.describe(found)}`, found.offset);
  }

  private describe(token: Token): string {
    return token.kind === 'end' ? 'end of expression' : `token "${this.source.slice(token.offset, token.end)}"`;
  }

  private unexpected(token: Token): ExpressionSyntaxError {
    return this.error(token.kind === 'end' ? 'unexpected end of expression' : `unexpected ${this.describe(token)}`, token.offset);
  }

  private error(reason: string, offset: number): ExpressionSyntaxError {
    return new ExpressionSyntaxError(reason, this.source, offset);
  }
}
