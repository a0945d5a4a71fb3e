/** Kinds of problem a DAG file can have. Closed, so callers can switch on it. */
export type DiagnosticCode =
  | 'file-limit'
  | 'encoding'
  | 'unreadable'
  | 'internal'
  | 'yaml-syntax'
  | 'yaml-tag'
  | 'schema'
  | 'duplicate-task'
  | 'unknown-need'
  | 'self-need'
  | 'cycle'
  | 'unknown-action'
  | 'action-input'
  | 'param'
  | 'expression-syntax'
  | 'expression-reference'
  | 'sub-dag'
  | 'unsafe-value'
  /** Too large for one run's workflow history (dag-repos/compiler/history-budget.ts). */
  | 'history-limit'
  /** Forbidden by the repository's policy (dag-repos/security/repo-policy.ts). */
  | 'policy';

export interface DagDiagnostic {
  code: DiagnosticCode;
  file: string;
  line: number;
  column: number;
  /** Human path inside the document, e.g. `tasks.configure.needs[1]`. */
  path: string;
  message: string;
}

export function formatDiagnostic(diagnostic: DagDiagnostic): string {
  const where = `${diagnostic.file}:${diagnostic.line}:${diagnostic.column}`;
  return diagnostic.path ? `${where} ${diagnostic.path}: ${diagnostic.message}` : `${where} ${diagnostic.message}`;
}

/** A DAG file that must not run; carries every problem found, each with its location. */
export class DagValidationError extends Error {
  override readonly name = 'DagValidationError';
  constructor(readonly diagnostics: readonly DagDiagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
  }
}
