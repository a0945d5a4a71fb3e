import { collectReferences, ExpressionSyntaxError, hasTemplate, parseExpression, parseTemplate, type Expr } from '../expressions';
import type { TaskSpec } from '../schema/dag-spec';
import type { DocPath } from './source-map';
import { didYouMean } from '../schema/suggest';

interface ExpressionReporter {
  add(code: 'expression-syntax' | 'expression-reference', path: DocPath, message: string): void;
}

interface Scope {
  params: readonly string[];
  /** Tasks whose results exist when this expression is evaluated. */
  ancestors: ReadonlySet<string>;
  allTasks: readonly string[];
  itemBound: boolean;
}

const ROOTS = ['params', 'tasks', 'item', 'itemIndex', 'run'] as const;
const TASK_FIELDS = ['outputs', 'state', 'error', 'items', 'attempt'];
const RUN_FIELDS = ['id', 'key', 'dag', 'repo', 'commit'];

export function isTemplated(value: unknown): boolean {
  return typeof value === 'string' && hasTemplate(value);
}

/**
 * The expression of a `when:`/`forEach:` value: either one `${{ expr }}` or a bare expression.
 * Throws ExpressionSyntaxError.
 */
export function conditionExpression(text: string): { source: string; expr: Expr } {
  if (!hasTemplate(text)) return { source: text, expr: parseExpression(text) };
  const parts = parseTemplate(text).filter((part) => part.kind === 'expr' || part.text.trim() !== '');
  const [only] = parts;
  if (parts.length !== 1 || only === undefined || only.kind !== 'expr') {
    throw new ExpressionSyntaxError('must be a single expression, e.g. ${{ params.enabled }}', text, 0);
  }
  return { source: only.source, expr: only.expr };
}

function checkReference(path: readonly string[], scope: Scope): string | undefined {
  const [root, name, field] = path;
  if (root === undefined) return undefined;
  if (!(ROOTS as readonly string[]).includes(root)) {
    return `unknown name "${root}"${didYouMean(root, ROOTS)}; expressions can read ${ROOTS.join(', ')}`;
  }
  if (root === 'params' && name !== undefined && !scope.params.includes(name)) {
    return `unknown param "${name}"${didYouMean(name, scope.params)}${scope.params.length ? '' : '; this DAG declares no params'}`;
  }
  if (root === 'tasks' && name !== undefined) {
    if (!scope.allTasks.includes(name)) return `unknown task "${name}"${didYouMean(name, scope.allTasks)}`;
    if (!scope.ancestors.has(name)) return `task "${name}" is not upstream of this task; add it to needs to read its results`;
    if (field !== undefined && !TASK_FIELDS.includes(field)) return `tasks.${name} has no "${field}"; use one of ${TASK_FIELDS.join(', ')}`;
  }
  if ((root === 'item' || root === 'itemIndex') && !scope.itemBound) return `"${root}" is only defined in tasks with forEach`;
  if (root === 'run' && name !== undefined && !RUN_FIELDS.includes(name)) return `run has no "${name}"; use one of ${RUN_FIELDS.join(', ')}`;
  return undefined;
}

function checkExpr(reporter: ExpressionReporter, at: DocPath, expr: Expr, scope: Scope): void {
  for (const reference of collectReferences(expr)) {
    const problem = checkReference(reference, scope);
    if (problem) reporter.add('expression-reference', at, problem);
  }
}

function checkTemplates(reporter: ExpressionReporter, at: DocPath, value: unknown, scope: Scope): void {
  if (typeof value === 'string') {
    if (!hasTemplate(value)) return;
    try {
      for (const part of parseTemplate(value)) if (part.kind === 'expr') checkExpr(reporter, at, part.expr, scope);
    } catch (error) {
      if (!(error instanceof ExpressionSyntaxError)) throw error;
      reporter.add('expression-syntax', at, error.message);
    }
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => checkTemplates(reporter, [...at, index], item, scope));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) checkTemplates(reporter, [...at, key], item, scope);
  }
}

function checkCondition(reporter: ExpressionReporter, at: DocPath, text: string, scope: Scope): void {
  try {
    checkExpr(reporter, at, conditionExpression(text).expr, scope);
  } catch (error) {
    if (!(error instanceof ExpressionSyntaxError)) throw error;
    reporter.add('expression-syntax', at, error.message);
  }
}

/** Syntax and names of every expression in one task. */
export function checkExpressions(
  reporter: ExpressionReporter,
  task: TaskSpec,
  index: number,
  scope: { params: readonly string[]; ancestors: ReadonlySet<string>; allTasks: readonly string[] },
): void {
  const at: DocPath = ['tasks', index];
  const itemBound = task.forEach !== undefined;
  const taskScope: Scope = { ...scope, itemBound };
  checkTemplates(reporter, [...at, 'with'], task.with, taskScope);
  if (typeof task.when === 'string') checkCondition(reporter, [...at, 'when'], task.when, { ...scope, itemBound: false });
  if (typeof task.forEach === 'string') checkCondition(reporter, [...at, 'forEach'], task.forEach, { ...scope, itemBound: false });
  else if (task.forEach !== undefined) checkTemplates(reporter, [...at, 'forEach'], task.forEach, { ...scope, itemBound: false });
  if (task.runsOn !== undefined) checkTemplates(reporter, [...at, 'runsOn'], task.runsOn, taskScope);
  if (task.compensate) {
    const withSelf = new Set([...scope.ancestors, task.id]);
    checkTemplates(reporter, [...at, 'compensate', 'with'], task.compensate.with, { ...taskScope, ancestors: withSelf });
  }
}
