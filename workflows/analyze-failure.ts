import * as wf from '@temporalio/workflow';
import type { AiActivities } from '../ai/activity-types';
import type { FailureAnalysis, FailureFacts } from '../dag-repos/actions/failure-analysis';
import { factsOf } from './failure-facts';
import { analysisWorkflowId } from './workflow-ids';
import type { TaskError } from './run-status';

/** Patch id: dagRun starts an analyzeFailure workflow for each task (or forEach item) that ends failed. */
export const AI_FAILURE_ANALYSIS = 'ai-failure-analysis';

/**
 * Patch id: the rules answer first (published at once in memo, details and the `analysis` query),
 * then the model enriches that answer (`ai.enrich`) instead of writing its own.
 */
export const AI_RULES_FIRST = 'ai-rules-first';

/** The analysis as it stands: the rules' answer while the model works, then the final one. */
const analysisQuery = wf.defineQuery<FailureAnalysis | undefined>('analysis');

export interface AnalyzeFailureInput {
  facts: FailureFacts;
}

// The activity bounds the model by QUBINODE_AI_TIMEOUT_MS itself; this outer limit also covers the
// first model load and index refresh. One attempt: a second try of a model that timed out is wasted time.
const { 'ai.analyze': analyze } = wf.proxyActivities<AiActivities>({ startToCloseTimeout: '3m', retry: { maximumAttempts: 1 } });
const { 'ai.analyzeWithRules': analyzeWithRules } = wf.proxyActivities<AiActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 3 } });
// The activity bounds the model by QUBINODE_AI_TIMEOUT_MS; this limit also covers the first model load.
const { 'ai.enrich': enrich } = wf.proxyActivities<AiActivities>({ startToCloseTimeout: '3m', retry: { maximumAttempts: 1 } });


function describe(analysis: FailureAnalysis): string {
  const fixes = analysis.fixes.map((fix) => `- ${fix.command ? `\`${fix.command}\`` : (fix.edit ?? '')} — ${fix.why}`);
  const refs = analysis.references.map((ref) => `- ${ref.file}:${ref.line}`);
  return [
    `**${analysis.summary}**`,
    '',
    `Likely cause: ${analysis.likelyCause}`,
    ...(fixes.length ? ['', 'Next steps:', ...fixes] : []),
    ...(refs.length ? ['', 'References:', ...refs] : []),
    '',
    `_${sourceText(analysis)}, confidence ${analysis.confidence.toFixed(2)}_`,
  ].join('\n');
}

function sourceText(analysis: FailureAnalysis): string {
  if (analysis.source === 'model') return `model ${analysis.model ?? ''}`;
  if (analysis.source === 'rules+model') return `rules + model ${analysis.model ?? ''}`;
  return `rules${analysis.fallbackReason ? ` (${analysis.fallbackReason})` : ''}`;
}

function publish(analysis: FailureAnalysis, pending: boolean): void {
  wf.upsertMemo({ analysis: { summary: analysis.summary, likelyCause: analysis.likelyCause, source: analysis.source, confidence: analysis.confidence, ...(analysis.category ? { category: analysis.category } : {}), pending } });
  wf.setCurrentDetails(pending ? `${describe(analysis)}\n\n_the model is writing a plain-language explanation…_` : describe(analysis));
}

/** Rules first, published at once; then the model's words on top, or the rules' answer with the reason. */
async function rulesThenModel(input: AnalyzeFailureInput): Promise<FailureAnalysis> {
  let current: FailureAnalysis | undefined;
  wf.setHandler(analysisQuery, () => current);
  const rules = await analyzeWithRules({ ...input.facts });
  current = rules;
  publish(rules, true);
  let final: FailureAnalysis;
  try {
    final = await enrich({ facts: input.facts, rules });
  } catch (error) {
    const reason = error instanceof wf.ActivityFailure ? (error.cause?.message ?? error.message) : String(error);
    final = { ...rules, fallbackReason: `model text not kept (error): ai.enrich failed: ${reason}` };
  }
  current = final;
  publish(final, false);
  return final;
}

/**
 * The AI analysis of one failed task, as its own workflow: the run that failed never waits for it.
 * The result is the analysis; the Web UI shows it as this workflow's details and memo.
 */
export async function analyzeFailure(input: AnalyzeFailureInput): Promise<FailureAnalysis> {
  if (wf.patched(AI_RULES_FIRST)) return rulesThenModel(input);
  wf.setCurrentDetails('analysing the failure…');
  let analysis: FailureAnalysis;
  try {
    analysis = await analyze(input.facts);
  } catch (error) {
    const reason = error instanceof wf.ActivityFailure ? (error.cause?.message ?? error.message) : String(error);
    analysis = await analyzeWithRules({ ...input.facts, fallbackReason: `ai.analyze failed: ${reason}` });
  }
  const { attempt: _attempt, ...clean } = analysis as FailureAnalysis & { attempt?: number };
  wf.upsertMemo({ analysis: { summary: clean.summary, likelyCause: clean.likelyCause, source: clean.source, confidence: clean.confidence } });
  wf.setCurrentDetails(describe(clean));
  return clean;
}

/**
 * Called by dagRun where a task's (or item's) final failure is recorded: starts its analysis as an
 * abandoned child and waits only for the start. Patched, so runs recorded before replay unchanged;
 * any problem starting it is swallowed, as the analysis must never change the run.
 */
export async function startFailureAnalysis(failure: { runId: string; dagId: string; taskId: string; action: string; error: TaskError; item?: number }): Promise<void> {
  if (!wf.patched(AI_FAILURE_ANALYSIS)) return;
  try {
    await wf.CancellationScope.nonCancellable(() =>
      wf.startChild(analyzeFailure, {
        workflowId: analysisWorkflowId(failure.runId, failure.taskId, failure.item),
        args: [{ facts: factsOf(failure) }],
        parentClosePolicy: 'ABANDON',
        workflowExecutionTimeout: '10m',
        staticSummary: `AI analysis: ${failure.dagId} / ${failure.taskId}${failure.item !== undefined ? ` item ${failure.item}` : ''}`,
      }),
    );
  } catch {
    // Already started (a replayed id) or refused: the run goes on without an analysis.
  }
}
