// The expression AST. Every node carries `offset`: the 0-based position in the parsed
// source of the token that names the node (operator, '[', property name, function name),
// so evaluation errors can point at it.

export type LiteralValue = string | number | boolean | null;
export type UnaryOperator = '!' | '-';
export type LogicalOperator = '&&' | '||';
export type BinaryOperator = '==' | '!=' | '<' | '<=' | '>' | '>=' | '+' | '-' | '*' | '/' | '%';

export interface LiteralExpr { readonly kind: 'literal'; readonly value: LiteralValue; readonly offset: number }
export interface ArrayExpr { readonly kind: 'array'; readonly elements: readonly Expr[]; readonly offset: number }
export interface IdentifierExpr { readonly kind: 'identifier'; readonly name: string; readonly offset: number }
export interface MemberExpr {
  readonly kind: 'member';
  readonly object: Expr;
  readonly property: string;
  readonly offset: number;
}
export interface IndexExpr { readonly kind: 'index'; readonly object: Expr; readonly index: Expr; readonly offset: number }
export interface CallExpr { readonly kind: 'call'; readonly name: string; readonly args: readonly Expr[]; readonly offset: number }
export interface UnaryExpr {
  readonly kind: 'unary';
  readonly operator: UnaryOperator;
  readonly operand: Expr;
  readonly offset: number;
}
export interface LogicalExpr {
  readonly kind: 'logical';
  readonly operator: LogicalOperator;
  readonly left: Expr;
  readonly right: Expr;
  readonly offset: number;
}
export interface BinaryExpr {
  readonly kind: 'binary';
  readonly operator: BinaryOperator;
  readonly left: Expr;
  readonly right: Expr;
  readonly offset: number;
}
export interface ConditionalExpr {
  readonly kind: 'conditional';
  readonly test: Expr;
  readonly consequent: Expr;
  readonly alternate: Expr;
  readonly offset: number;
}

/** A parsed expression: the text inside `${{ }}`. */
export type Expr =
  | LiteralExpr
  | ArrayExpr
  | IdentifierExpr
  | MemberExpr
  | IndexExpr
  | CallExpr
  | UnaryExpr
  | LogicalExpr
  | BinaryExpr
  | ConditionalExpr;

export function assertNever(value: never): never {
  throw new Error(`unhandled expression node: ${JSON.stringify(value)}`);
}
