import { ExpressionSyntaxError } from './errors';
import type { ExpressionScope } from './evaluate';
import { collectReferences } from './references';
import { hasTemplate, parseTemplate, renderTemplate } from './template';
import { defineValue, isPlainObject } from './values';

export type ValuePath = (string | number)[];

/** A string inside a value whose template failed to parse, and where it sits. */
export interface TemplateSyntaxIssue {
  path: ValuePath;
  error: ExpressionSyntaxError;
}

/**
 * Renders every string inside arrays and plain objects (keys are not rendered). Returns new
 * arrays/objects and never mutates `value`; other objects (Dates, class instances) pass through.
 * Values must be trees: a cyclic structure would recurse forever.
 */
export function renderValue(value: unknown, scope: ExpressionScope): unknown {
  if (typeof value === 'string') return renderTemplate(value, scope);
  if (Array.isArray(value)) return value.map((item: unknown) => renderValue(item, scope));
  if (isPlainObject(value)) {
    const rendered: Record<string, unknown> = {};
    for (const key of Object.keys(value)) defineValue(rendered, key, renderValue(value[key], scope));
    return rendered;
  }
  return value;
}

/** Every string inside `value` whose template does not parse, with its path (empty for a bare string). */
export function collectTemplateErrors(value: unknown): TemplateSyntaxIssue[] {
  const issues: TemplateSyntaxIssue[] = [];
  visitTemplates(value, [], (text, path) => {
    try {
      parseTemplate(text);
    } catch (error) {
      if (!(error instanceof ExpressionSyntaxError)) throw error;
      issues.push({ path, error });
    }
  });
  return issues;
}

/**
 * The static member paths read by all templates inside `value`, without duplicates. Throws the
 * first ExpressionSyntaxError it meets; run collectTemplateErrors first to report them all.
 */
export function collectValueReferences(value: unknown): string[][] {
  const found = new Map<string, string[]>();
  visitTemplates(value, [], (text) => {
    for (const part of parseTemplate(text)) {
      if (part.kind !== 'expr') continue;
      for (const path of collectReferences(part.expr)) found.set(JSON.stringify(path), path);
    }
  });
  return [...found.values()];
}

function visitTemplates(value: unknown, path: ValuePath, visit: (text: string, path: ValuePath) => void): void {
  if (typeof value === 'string') {
    if (hasTemplate(value)) visit(value, path);
  } else if (Array.isArray(value)) {
    value.forEach((item: unknown, index) => visitTemplates(item, [...path, index], visit));
  } else if (isPlainObject(value)) {
    for (const key of Object.keys(value)) visitTemplates(value[key], [...path, key], visit);
  }
}
