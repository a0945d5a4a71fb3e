/** What the repository scanner reports, as data: the sync workflow and the views carry it. */

export type Severity = 'high' | 'medium' | 'low';

export interface Finding {
  rule: string;
  severity: Severity;
  file: string;
  line: number;
  column: number;
  message: string;
  /** Set when the task accepts this rule with `securityAllow`. */
  allowedBecause?: string;
  /** The task the finding is in, when it is in one. */
  task?: string;
}

export function formatFinding(finding: Finding): string {
  const allowed = finding.allowedBecause ? ` [allowed: ${finding.allowedBecause}]` : '';
  return `${finding.file}:${finding.line}:${finding.column} ${finding.severity} ${finding.rule}: ${finding.message}${allowed}`;
}

/** High findings that no task allows: these block a commit. */
export function blockingFindings(findings: readonly Finding[]): Finding[] {
  return findings.filter((finding) => finding.severity === 'high' && !finding.allowedBecause);
}
