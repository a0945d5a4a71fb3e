// A failed task's facts and its analysis as data: workflows record them, the AI writes them and the
// client shows them, so they live in the pure part of dag-repos that all three may import.
import { z } from 'zod';

/** What the analyser is told about one failed task: plain data, small enough for workflow history. */
export const FailureFacts = z.object({
  runId: z.string(),
  dagId: z.string(),
  taskId: z.string(),
  /** forEach item index, when one item failed. */
  item: z.number().int().nonnegative().optional(),
  action: z.string(),
  errorType: z.string(),
  message: z.string(),
  exitCode: z.number().int().nullable().optional(),
  stdoutTail: z.string().optional(),
  stderrTail: z.string().optional(),
  /** Messages of failed ansible tasks, when the action reported them. */
  failedTasks: z.array(z.string()).optional(),
  /** A few read-only facts of the worker host (disk, /dev/kvm, libvirt socket...). */
  diag: z.record(z.string(), z.string()).optional(),
});
export type FailureFacts = z.infer<typeof FailureFacts>;

export const ANALYSIS_CATEGORIES = [
  'permission-denied',
  'dns-failure',
  'disk-full',
  'package-not-found',
  'subscription-not-registered',
  'libvirt-not-running',
  'no-kvm',
  'ssh-unreachable',
  'timeout',
  'python-module-missing',
  'command-not-found',
  'connection-refused',
  'ansible-syntax',
  'vm-exists',
  'http-error',
  'unknown',
] as const;
export type AnalysisCategory = (typeof ANALYSIS_CATEGORIES)[number];

export const AnalysisFix = z.object({
  /** A command to run (read it before running it). */
  command: z.string().optional(),
  /** Or an edit to make, in words (file and change). */
  edit: z.string().optional(),
  why: z.string(),
});
export type AnalysisFix = z.infer<typeof AnalysisFix>;

export const AnalysisReference = z.object({ chunkId: z.string(), file: z.string(), line: z.number().int().nonnegative() });
export type AnalysisReference = z.infer<typeof AnalysisReference>;

/** The analysis kept with a failed task as `analysis`. */
export const FailureAnalysis = z.object({
  summary: z.string().min(1),
  likelyCause: z.string().min(1),
  fixes: z.array(AnalysisFix),
  /** 0..1: how sure the analyser is. */
  confidence: z.number().min(0).max(1),
  references: z.array(AnalysisReference),
  /** `rules+model`: the rules' category, fixes and references, with the model's summary and likely cause. */
  source: z.enum(['model', 'rules', 'rules+model']),
  category: z.enum(ANALYSIS_CATEGORIES).optional(),
  /** Model file name, when the model wrote it. */
  model: z.string().optional(),
  /** Why the model's text was not used, when the rules' answer stands. */
  fallbackReason: z.string().optional(),
  elapsedMs: z.number().nonnegative().optional(),
});
export type FailureAnalysis = z.infer<typeof FailureAnalysis>;

/** The text an analyser reads: error message, ansible failures and output tails, most telling first. */
export function failureText(facts: FailureFacts): string {
  return [facts.message, ...(facts.failedTasks ?? []), facts.stderrTail ?? '', facts.stdoutTail ?? ''].filter(Boolean).join('\n');
}
