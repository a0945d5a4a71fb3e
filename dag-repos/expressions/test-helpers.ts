// Shared by the *.test.ts files in this folder; not part of the public surface.
import assert from 'node:assert/strict';
import { ExpressionEvaluationError, ExpressionSyntaxError, evaluateExpression, parseExpression } from './index';
import type { ExpressionScope } from './index';

export function run(source: string, scope: ExpressionScope = {}): unknown {
  return evaluateExpression(parseExpression(source), scope, source);
}

export function syntaxErrorOf(action: () => unknown): ExpressionSyntaxError {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof ExpressionSyntaxError, `expected ExpressionSyntaxError, got ${String(error)}`);
    return error;
  }
  return assert.fail('expected an ExpressionSyntaxError but nothing was thrown');
}

export function evaluationErrorOf(action: () => unknown): ExpressionEvaluationError {
  try {
    action();
  } catch (error) {
    assert.ok(error instanceof ExpressionEvaluationError, `expected ExpressionEvaluationError, got ${String(error)}`);
    return error;
  }
  return assert.fail('expected an ExpressionEvaluationError but nothing was thrown');
}
