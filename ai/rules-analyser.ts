import { failureText, type AnalysisCategory, type AnalysisReference, type FailureAnalysis, type FailureFacts } from '../dag-repos/actions/failure-analysis';
import { ERROR_PATTERNS, type ErrorPattern } from './error-patterns';

/** The first pattern of the library that matches the failure's text, if any. */
export function classifyFailure(facts: FailureFacts): { pattern: ErrorPattern; evidence: string } | undefined {
  // The error type takes part: a Temporal timeout says so only there.
  const text = `${facts.errorType}\n${failureText(facts)}`;
  for (const pattern of ERROR_PATTERNS) {
    for (const regex of pattern.match) {
      const found = regex.exec(text);
      if (found) return { pattern, evidence: evidenceLine(text, found.index) };
    }
  }
  return undefined;
}

function evidenceLine(text: string, index: number): string {
  const start = text.lastIndexOf('\n', index) + 1;
  const end = text.indexOf('\n', index);
  const line = text.slice(start, end < 0 ? undefined : end).trim();
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

export function categoryOf(facts: FailureFacts): AnalysisCategory {
  return classifyFailure(facts)?.pattern.category ?? 'unknown';
}

/** The deterministic analysis: a pattern from the library, or a plain restatement of the error. */
export function analyseWithRules(facts: FailureFacts, references: readonly AnalysisReference[] = [], fallbackReason?: string): FailureAnalysis {
  const where = `Task "${facts.taskId}"${facts.item !== undefined ? ` (item ${facts.item})` : ''} of ${facts.dagId}`;
  const found = classifyFailure(facts);
  const common = { references: [...references], source: 'rules' as const, ...(fallbackReason ? { fallbackReason } : {}) };
  if (!found) {
    const firstLine = facts.message.split('\n')[0] ?? facts.message;
    return {
      summary: `${where} failed: ${firstLine.slice(0, 200)}`,
      likelyCause: `No known pattern matched${facts.exitCode !== undefined && facts.exitCode !== null ? ` (exit code ${facts.exitCode})` : ''}; read the end of the task output.`,
      fixes: [{ command: `qubinode logs ${facts.runId} ${facts.taskId}`, why: 'the full output of the failed task' }],
      confidence: 0.2,
      category: 'unknown',
      ...common,
    };
  }
  const { pattern, evidence } = found;
  return {
    summary: `${where} failed. ${pattern.summary}`,
    likelyCause: `${pattern.likelyCause} Evidence: "${evidence}"`,
    fixes: pattern.fixes.map((fix) => ({ ...fix })),
    confidence: pattern.confidence,
    category: pattern.category,
    ...common,
  };
}
