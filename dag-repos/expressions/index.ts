// Public surface of the expression language. Import from here, not from the files behind it.
export type { Expr } from './ast';
export { ExpressionSyntaxError, ExpressionEvaluationError } from './errors';
export { parseExpression } from './parser';
export { evaluateExpression } from './evaluate';
export type { ExpressionScope } from './evaluate';
export { EXPRESSION_FUNCTIONS } from './functions';
export { collectReferences } from './references';
export { hasTemplate, parseTemplate, renderTemplate } from './template';
export type { TemplatePart } from './template';
export { collectTemplateErrors, collectValueReferences, renderValue } from './deep-values';
export type { TemplateSyntaxIssue, ValuePath } from './deep-values';
export { isPlainObject } from './values';
