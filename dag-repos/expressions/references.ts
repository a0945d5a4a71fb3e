import { assertNever } from './ast';
import type { Expr } from './ast';

/**
 * The static member paths an expression reads, in order of appearance, without duplicates:
 * `tasks.create.outputs.ip` gives `['tasks', 'create', 'outputs', 'ip']`. A literal index
 * (`a['b']`, `a[0]`) is a segment (numbers as strings); a computed index ends the path there
 * and its own references are collected separately.
 */
export function collectReferences(expr: Expr): string[][] {
  const found = new Map<string, string[]>();
  visit(expr, found);
  return [...found.values()];
}

function visit(expr: Expr, found: Map<string, string[]>): void {
  const path = staticPath(expr);
  if (path !== undefined) {
    found.set(JSON.stringify(path), path);
    return;
  }
  switch (expr.kind) {
    case 'literal':
    case 'identifier':
      return;
    case 'array':
      return expr.elements.forEach((element) => visit(element, found));
    case 'member':
      return visit(expr.object, found);
    case 'index':
      visit(expr.object, found);
      return visit(expr.index, found);
    case 'call':
      return expr.args.forEach((arg) => visit(arg, found));
    case 'unary':
      return visit(expr.operand, found);
    case 'logical':
    case 'binary':
      visit(expr.left, found);
      return visit(expr.right, found);
    case 'conditional':
      visit(expr.test, found);
      visit(expr.consequent, found);
      return visit(expr.alternate, found);
    default:
      return assertNever(expr);
  }
}

function staticPath(expr: Expr): string[] | undefined {
  switch (expr.kind) {
    case 'identifier':
      return [expr.name];
    case 'member': {
      const base = staticPath(expr.object);
      return base && [...base, expr.property];
    }
    case 'index': {
      const key = expr.index.kind === 'literal' ? expr.index.value : undefined;
      if (typeof key !== 'string' && typeof key !== 'number') return undefined;
      const base = staticPath(expr.object);
      return base && [...base, String(key)];
    }
    default:
      return undefined;
  }
}
