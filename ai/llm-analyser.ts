import type { AnalysisReference, FailureAnalysis, FailureFacts } from '../dag-repos/actions/failure-analysis';
import { MODEL_OUTPUT_SCHEMA, ModelOutput } from './model-output';
import type { SearchHit } from './knowledge-index';
import type { ModelRuntime } from './model-runtime';
import { classifyFailure } from './rules-analyser';
import { zodProblems } from '../config/zod-problems';

export class InvalidModelOutputError extends Error {
  override readonly name = 'InvalidModelOutputError';
}

const SYSTEM = [
  'You are a troubleshooting assistant for Qubinode Navigator, which runs DAG workflows that manage KVM/libvirt hosts with shell commands, ansible-navigator and kcli.',
  'A task failed. Explain the likely cause from ITS OWN OUTPUT first, then the documentation excerpts.',
  'Answer in JSON only: summary (one sentence), likelyCause (one or two sentences), fixes (up to 3 shell commands, each with why),',
  'confidence (0 to 1), references (numbers of the excerpts you used). Do not invent file names or hosts that are not in the input.',
  'Example answer for "ssh: connect to host 10.0.0.5 port 22: No route to host":',
  '{"summary": "The playbook could not reach 10.0.0.5 over SSH.", "likelyCause": "The VM at 10.0.0.5 is down or its network is not up yet.",',
  '"fixes": [{"command": "ping -c2 10.0.0.5", "why": "checks that the VM answers"}], "confidence": 0.6, "references": [1]}',
].join(' ');

/** Below this a model "analysis" says nothing (tiny models answer "error" or echo the task name): use the rules. */
const MIN_TEXT = 20;

function tail(text: string | undefined, chars: number): string {
  if (!text) return '';
  const trimmed = text.trimEnd();
  return trimmed.length > chars ? `…${trimmed.slice(-chars)}` : trimmed;
}

/** The prompt: the failure's facts, a hint from the pattern library, and numbered doc excerpts to cite. */
export function buildPrompt(facts: FailureFacts, hits: readonly SearchHit[]): string {
  const hint = classifyFailure(facts);
  const lines = [
    `DAG: ${facts.dagId}`,
    `Task: ${facts.taskId}${facts.item !== undefined ? ` (forEach item ${facts.item})` : ''}  action: ${facts.action}`,
    `Error: ${facts.errorType}: ${facts.message.slice(0, 400)}`,
    ...(facts.exitCode !== undefined && facts.exitCode !== null ? [`Exit code: ${facts.exitCode}`] : []),
    ...(facts.failedTasks?.length ? ['Failed ansible tasks:', ...facts.failedTasks.slice(0, 5).map((entry) => `- ${entry.slice(0, 300)}`)] : []),
    ...(facts.stderrTail?.trim() ? ['stderr (end):', tail(facts.stderrTail, 1200)] : []),
    ...(facts.stdoutTail?.trim() ? ['stdout (end):', tail(facts.stdoutTail, 600)] : []),
    ...(facts.diag ? [`Host facts: ${Object.entries(facts.diag).map(([key, value]) => `${key}=${value}`).join('; ').slice(0, 500)}`] : []),
    ...(hint ? [`A pattern library matched "${hint.pattern.category}" on: ${hint.evidence}`] : []),
    '',
    'Documentation excerpts:',
    ...hits.map((hit, index) => `[${index + 1}] ${hit.chunk.file}:${hit.chunk.startLine} ${hit.chunk.heading}\n${hit.chunk.text.slice(0, 500)}`),
  ];
  return lines.join('\n');
}

export function referencesOf(hits: readonly SearchHit[]): AnalysisReference[] {
  return hits.map((hit) => ({ chunkId: hit.chunk.id, file: hit.chunk.file, line: hit.chunk.startLine }));
}

/** Checks the model's JSON and turns excerpt numbers back into file:line references. */
export function parseModelOutput(raw: string, hits: readonly SearchHit[]): Omit<FailureAnalysis, 'source'> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new InvalidModelOutputError(`model output is not JSON: ${(error as Error).message}`);
  }
  const parsed = ModelOutput.safeParse(json);
  if (!parsed.success) throw new InvalidModelOutputError(`model output does not fit the schema: ${zodProblems(parsed.error, '').join('; ')}`);
  const output = parsed.data;
  if (output.summary.trim().length < MIN_TEXT || output.likelyCause.trim().length < MIN_TEXT) {
    throw new InvalidModelOutputError(`model output too thin to help: summary ${JSON.stringify(output.summary.slice(0, 60))}`);
  }
  const cited = [...new Set(output.references)].flatMap((number) => {
    const hit = hits[number - 1];
    return hit ? [{ chunkId: hit.chunk.id, file: hit.chunk.file, line: hit.chunk.startLine }] : [];
  });
  // Small models write 0-100 or negative numbers now and then; the contract is 0..1.
  const confidence = output.confidence > 1 ? Math.min(output.confidence / 100, 1) : Math.max(output.confidence, 0);
  return {
    summary: output.summary.trim(),
    likelyCause: output.likelyCause.trim(),
    fixes: output.fixes.filter((fix) => fix.command.trim() !== '').map((fix) => ({ command: fix.command.trim(), why: fix.why.trim() || 'suggested by the model' })),
    confidence,
    references: cited.length > 0 ? cited : referencesOf(hits.slice(0, 3)),
  };
}

/** Asks the model for a schema-constrained analysis; throws on timeout/abort, missing model or invalid output. */
export async function analyseWithModel(runtime: ModelRuntime, facts: FailureFacts, hits: readonly SearchHit[], signal?: AbortSignal): Promise<FailureAnalysis> {
  const started = Date.now();
  const raw = await runtime.generateJson({ system: SYSTEM, prompt: buildPrompt(facts, hits), schema: MODEL_OUTPUT_SCHEMA, maxTokens: 400, ...(signal ? { signal } : {}) });
  const hint = classifyFailure(facts);
  const parsed = parseModelOutput(raw, hits);
  // An explanation without a next step is worth less than the library's concrete commands.
  if (parsed.fixes.length === 0 && hint) throw new InvalidModelOutputError(`model suggested no next command; the pattern library knows "${hint.pattern.category}"`);
  return {
    ...parsed,
    source: 'model',
    ...(hint ? { category: hint.pattern.category } : {}),
    model: await runtime.modelName(),
    elapsedMs: Date.now() - started,
  };
}
