import { failureText, type FailureAnalysis, type FailureFacts } from '../dag-repos/actions/failure-analysis';
import { ModelOutputTruncatedError, ModelUnavailableError, type ModelRuntime } from './model-runtime';
import { classifyFailure } from './rules-analyser';

/** Why the model's text was not kept; the rules' answer stands and says so in `fallbackReason`. */
export type EnrichRejection = 'truncated' | 'too-thin' | 'not-prose' | 'echo' | 'off-topic' | 'invented' | 'repetitive' | 'timeout' | 'unavailable';

/** The model's text did not earn a place in the analysis. */
export class ModelTextRejectedError extends Error {
  override readonly name = 'ModelTextRejectedError';
  constructor(
    readonly reason: EnrichRejection,
    detail: string,
  ) {
    super(detail);
  }
}

/** A small job a 270M model does well: say in plain words what the rules found, without changing it. */
const SYSTEM = 'You explain failed infrastructure tasks to an operator in plain language, in one sentence. Do not invent names that are not in the input.';

/** The two sentences asked for, each started for the model so it cannot drift into lists or code. */
const ASKS = {
  summary: { question: 'In one plain sentence, what went wrong?', prefix: 'This task failed because' },
  likelyCause: { question: 'In one plain sentence, what is the most likely cause?', prefix: 'The most likely cause is that' },
} as const;

/** One sentence fits; a longer answer is a loop or a list and is cut (and refused). */
const MAX_TOKENS = 60;
/** Below this (after the given start) a sentence says nothing. */
const MIN_TEXT = 12;
/** Words too common to show a sentence is about this failure. */
const COMMON = new Set(['this', 'that', 'there', 'with', 'from', 'have', 'task', 'failed', 'because', 'cause', 'likely', 'most', 'error', 'problem', 'system', 'user', 'something', 'properly', 'were', 'been', 'which', 'when', 'what', 'could', 'would', 'does', 'into', 'they', 'their']);

function tail(text: string | undefined, chars: number): string {
  if (!text) return '';
  const trimmed = text.trimEnd();
  return trimmed.length > chars ? `…${trimmed.slice(-chars)}` : trimmed;
}

/**
 * The prompt: the rules' category and evidence first, then a little of the failure's own output. The
 * task's name is left out: a 270M model given it tends to answer with it.
 */
export function buildEnrichPrompt(facts: FailureFacts, rules: FailureAnalysis): string {
  const evidence = classifyFailure(facts)?.evidence;
  const pattern = rules.summary.replace(/^Task ".*?" (\(item \d+\) )?of \S+ failed[.:] ?/, '');
  return [
    `Category: ${rules.category ?? 'unknown'}`,
    ...(evidence ? [`Evidence line: ${evidence}`] : []),
    `What the pattern library says: ${pattern.slice(0, 300)}`,
    `Error (${facts.action}): ${facts.message.slice(0, 300)}`,
    ...(facts.failedTasks?.length ? ['Failed ansible tasks:', ...facts.failedTasks.slice(0, 3).map((entry) => `- ${entry.slice(0, 200)}`)] : []),
    ...(facts.stderrTail?.trim() ? ['stderr (end):', tail(facts.stderrTail, 600)] : []),
    ...(!facts.stderrTail?.trim() && facts.stdoutTail?.trim() ? ['stdout (end):', tail(facts.stdoutTail, 400)] : []),
  ].join('\n');
}

// Control characters other than tab and newline (terminal escapes among them) never reach a terminal or page.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

const ESCAPE_SEQUENCE = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

function clean(text: string): string {
  return text.replace(ESCAPE_SEQUENCE, '').replace(CONTROL, '').replace(/\s+/g, ' ').trim();
}

/** True when one short phrase makes up most of the text: the model looped. */
export function isRepetitive(text: string): boolean {
  const words = text.toLowerCase().split(/\W+/).filter(Boolean);
  if (words.length < 12) return false;
  const counts = new Map<string, number>();
  for (let index = 0; index + 3 <= words.length; index += 1) {
    const key = words.slice(index, index + 3).join(' ');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const top = Math.max(...counts.values());
  return top >= 3 && top * 3 >= words.length / 2;
}

/** Words that name something (a host, path, version, variable): they must come from the input, never be made up. */
const NAMED = /[A-Za-z0-9_.:/${}@-]*[0-9_/$@{}][A-Za-z0-9_.:/${}@-]*/g;

function invented(text: string, input: string): string | undefined {
  for (const found of text.matchAll(NAMED)) {
    const word = found[0].replace(/^[.:-]+|[.:-]+$/g, '');
    if (word.length >= 3 && !input.includes(word)) return word;
  }
  return undefined;
}

function squash(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, ' ').trim();
}

/** Share of the text's word triples found in the input: near 1 means the model copied instead of explaining. */
function copiedShare(text: string, input: string): number {
  const words = squash(text).split(' ');
  if (words.length < 3) return 0;
  const source = ` ${squash(input)} `;
  let copied = 0;
  for (let index = 0; index + 3 <= words.length; index += 1) if (source.includes(` ${words.slice(index, index + 3).join(' ')} `)) copied += 1;
  return copied / (words.length - 2);
}

/**
 * Checks one sentence the model wrote; throws ModelTextRejectedError with the reason when it is not
 * worth showing: thin, not a sentence, a copy of the input, a loop, or naming what the input does not contain.
 */
export function checkSentence(raw: string, prefix: string, facts: FailureFacts, rules: FailureAnalysis, prompt: string): string {
  const text = clean(raw);
  const said = text.startsWith(prefix) ? text.slice(prefix.length).trim() : text;
  const quote = JSON.stringify(text.slice(0, 80));
  if (said.length < MIN_TEXT) throw new ModelTextRejectedError('too-thin', `model text too thin to help: ${quote}`);
  const words = said.split(/\s+/).filter((word) => /^[A-Za-z][a-z']*[,.;:]?$/.test(word));
  if (words.length < 4 || !/[.!]$/.test(said)) throw new ModelTextRejectedError('not-prose', `model text is not a plain sentence: ${quote}`);
  if (isRepetitive(said)) throw new ModelTextRejectedError('repetitive', `model text repeats itself: ${quote}`);
  const input = `${prompt}\n${failureText(facts)}`;
  if (squash(said).startsWith(squash(facts.taskId)) || copiedShare(said, input) > 0.7) throw new ModelTextRejectedError('echo', `model text copies the input: ${quote}`);
  const topic = new Set(squash(`${rules.category ?? ''} ${rules.summary} ${rules.likelyCause}`).split(' '));
  if (!squash(said).split(' ').some((word) => word.length >= 4 && !COMMON.has(word) && (topic.has(word) || topic.has(word.replace(/(ed|s|ing)$/, ''))))) {
    throw new ModelTextRejectedError('off-topic', `model text does not speak of what the rules found: ${quote}`);
  }
  const madeUp = invented(said, input);
  if (madeUp) throw new ModelTextRejectedError('invented', `model text names ${JSON.stringify(madeUp.slice(0, 60))}, which is not in the failure`);
  return text;
}

/** The rules' answer with the model's words: category, fixes, references and confidence stay the rules'. */
export function mergeEnrichment(rules: FailureAnalysis, text: Partial<EnrichText>, model: string, elapsedMs: number): FailureAnalysis {
  const { fallbackReason: _reason, ...kept } = rules;
  const evidence = /Evidence: ".*"$/.exec(rules.likelyCause)?.[0];
  return {
    ...kept,
    ...(text.summary ? { summary: text.summary } : {}),
    ...(text.likelyCause ? { likelyCause: evidence ? `${text.likelyCause} ${evidence}` : text.likelyCause } : {}),
    source: 'rules+model',
    model,
    elapsedMs,
  };
}

export interface EnrichText {
  summary: string;
  likelyCause: string;
}

/**
 * Asks the model for a plain-language summary and likely cause of what the rules found, one short
 * sentence each. A sentence that fails the checks is dropped; when both are, throws
 * ModelTextRejectedError with the (first) typed reason. A model problem never becomes anything else.
 */
export async function enrichWithModel(runtime: ModelRuntime, facts: FailureFacts, rules: FailureAnalysis, signal?: AbortSignal): Promise<FailureAnalysis> {
  const started = Date.now();
  const prompt = buildEnrichPrompt(facts, rules);
  const kept: Partial<EnrichText> = {};
  let rejected: ModelTextRejectedError | undefined;
  for (const field of ['summary', 'likelyCause'] as const) {
    const ask = ASKS[field];
    try {
      const raw = await runtime.sentence({ system: SYSTEM, prompt: `${prompt}\n\n${ask.question}`, prefix: ask.prefix, maxTokens: MAX_TOKENS, ...(signal ? { signal } : {}) });
      kept[field] = checkSentence(raw, ask.prefix, facts, rules, prompt);
    } catch (error) {
      if (signal?.aborted) throw new ModelTextRejectedError('timeout', String((signal.reason as Error | undefined)?.message ?? 'aborted'));
      if (error instanceof ModelOutputTruncatedError) rejected ??= new ModelTextRejectedError('truncated', error.message);
      else if (error instanceof ModelUnavailableError) throw new ModelTextRejectedError('unavailable', error.message);
      else if (error instanceof ModelTextRejectedError) rejected ??= error;
      else throw error;
    }
  }
  if (!kept.summary && !kept.likelyCause) throw rejected ?? new ModelTextRejectedError('too-thin', 'model wrote nothing');
  return mergeEnrichment(rules, kept, await runtime.modelName(), Date.now() - started);
}
