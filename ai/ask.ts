import type { ChatSessionModelFunctions } from 'node-llama-cpp' with { 'resolution-mode': 'import' };
import type { DiagTool } from '../dag-repos/actions/diag-input';
import type { AiService } from './ai-service';
import type { Turn } from './conversations';
import type { SearchHit } from './knowledge-index';
import { deadlineSignal } from '../config/deadline-signal';

export interface Answer {
  answer: string;
  sources: { n: number; file: string; line: number; heading: string }[];
  source: 'model' | 'retrieval';
  /** Read-only tools the model called, with their arguments. */
  toolCalls: string[];
  fallbackReason?: string;
}

/** Runs one read-only `diag.*` tool on this host; the caller passes it in (the worker's collectDiag), as ai/ sits below activities/. */
export type HostDiag = (tool: DiagTool, input: Record<string, unknown>) => Promise<Record<string, unknown>>;

/** Reads runs for the answer (the CLI passes its backend in, as ai/ sits below the client). Read-only. */
export interface RunLookup {
  /** The run's state and each task's state, attempt and error. */
  status(runId: string): Promise<Record<string, unknown>>;
  /** The last lines of a task's log. */
  logTail(runId: string, taskId: string): Promise<string>;
}

/** A run id as status and logs print it: `dag/<repo>/<dag>/<key>`, or `<repo>/<dag>/<yyyymmdd>-<hhmmss>-<key>` without `dag/`. */
const RUN_ID = /\bdag\/[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]|\b[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*\/\d{8}-\d{6}-[a-z0-9]{3,12}\b/g;

/** The last run id named in the question, else in the conversation before it. */
export function runIdIn(question: string, history: readonly Turn[]): string | undefined {
  for (const text of [question, ...[...history].reverse().flatMap((turn) => [turn.question, turn.answer])]) {
    const found = text.match(RUN_ID);
    if (found?.length) return found[found.length - 1];
  }
  return undefined;
}

/** Read-only run tools the model may call (run_status, run_logs); each call is recorded for the user. */
async function runFunctions(calls: string[], runs: RunLookup): Promise<ChatSessionModelFunctions> {
  const { defineChatSessionFunction } = await import('node-llama-cpp');
  return {
    run_status: defineChatSessionFunction({
      description: 'state of a DAG run and of each of its tasks, with errors',
      params: { type: 'object', properties: { runId: { type: 'string' } } },
      handler: async (params) => {
        calls.push(`run_status(${params.runId})`);
        return runs.status(params.runId).catch((error: Error) => ({ error: error.message }));
      },
    }),
    run_logs: defineChatSessionFunction({
      description: 'the last lines of the log of one task of a DAG run',
      params: { type: 'object', properties: { runId: { type: 'string' }, taskId: { type: 'string' } } },
      handler: async (params) => {
        calls.push(`run_logs(${params.runId}, ${params.taskId})`);
        return runs.logTail(params.runId, params.taskId).catch((error: Error) => `no log: ${error.message}`);
      },
    }),
  };
}

/**
 * The facts of the run a question is about, read before the model is asked (so a small model that calls
 * no tool still answers from them): its status, and the log tail of each failed task (at most two).
 */
async function runFacts(runId: string, runs: RunLookup, calls: string[]): Promise<string> {
  calls.push(`run_status(${runId})`);
  let status: Record<string, unknown>;
  try {
    status = await runs.status(runId);
  } catch (error) {
    return `Run ${runId}: could not be read (${(error as Error).message}).`;
  }
  const failed = (Array.isArray(status.tasks) ? (status.tasks as { id?: unknown; state?: unknown }[]) : []).filter((task) => task.state === 'failed' && typeof task.id === 'string').slice(0, 2);
  const tails: string[] = [];
  for (const task of failed) {
    calls.push(`run_logs(${runId}, ${String(task.id)})`);
    const tail = await runs.logTail(runId, task.id as string).catch((error: Error) => `no log: ${error.message}`);
    tails.push(`Log tail of task ${String(task.id)}:\n${tail}`);
  }
  return [`Run status (run_status ${runId}):`, JSON.stringify(status, null, 1).slice(0, 2500), ...tails].join('\n');
}

/** The last turns of the conversation, for the prompt: the model reads what "it" and "that run" mean. */
function earlierTurns(history: readonly Turn[]): string {
  return history
    .slice(-3)
    .map((turn) => `Q: ${turn.question.slice(0, 400)}\nA: ${turn.answer.slice(0, 600)}`)
    .join('\n');
}

/** Read-only `diag.*` tools the model may call (reads only, changes nothing). */
async function diagFunctions(calls: string[], collectDiag: HostDiag): Promise<ChatSessionModelFunctions> {
  const { defineChatSessionFunction } = await import('node-llama-cpp');
  const tool = (name: 'system_info' | 'resource_usage' | 'kvm' | 'network', description: string) =>
    defineChatSessionFunction({
      description,
      handler: async () => {
        calls.push(`diag.${name}`);
        return collectDiag(name, {});
      },
    });
  return {
    diag_system_info: tool('system_info', 'OS, kernel, CPU, memory and uptime of this host'),
    diag_resource_usage: tool('resource_usage', 'disk space of / and the libvirt image pool, memory and load of this host'),
    diag_kvm: tool('kvm', 'whether this host can run KVM VMs: /dev/kvm, CPU virtualization flags, libvirtd'),
    diag_network: tool('network', 'network interfaces, routes and name resolution of this host'),
    diag_service_status: defineChatSessionFunction({
      description: 'whether systemd services are active on this host',
      params: { type: 'object', properties: { services: { type: 'array', items: { type: 'string' } } } },
      handler: async (params) => {
        calls.push(`diag.service_status(${params.services.join(',')})`);
        return collectDiag('service_status', { services: params.services.length ? params.services : ['libvirtd'] });
      },
    }),
  };
}

/** Without a model answer, a question about this host still gets the read-only facts that bear on it. */
async function withHostFacts(answer: Answer, aboutHost: boolean, collectDiag: HostDiag): Promise<Answer> {
  if (!aboutHost) return answer;
  const facts = { resource_usage: await collectDiag('resource_usage', {}), kvm: await collectDiag('kvm', {}) };
  return { ...answer, answer: `Host facts (diag.resource_usage, diag.kvm):\n${JSON.stringify(facts, null, 2)}\n\n${answer.answer}`, toolCalls: [...answer.toolCalls, 'diag.resource_usage', 'diag.kvm'] };
}

/** Tiny models loop: the same line again and again. Such an answer is worse than the excerpts. */
function isDegenerate(answer: string): boolean {
  const lines = answer.split('\n').map((line) => line.trim()).filter(Boolean);
  const counts = new Map<string, number>();
  for (const line of lines) counts.set(line, (counts.get(line) ?? 0) + 1);
  return answer.trim().length < 3 || [...counts.values()].some((count) => count >= 3);
}

const SYSTEM = [
  'You answer questions about Qubinode Navigator (DAG workflows on Temporal for KVM hosts) from the numbered documentation excerpts.',
  'Cite excerpts as [1], [2]. Be brief. If the question is about this machine, call the diag_* functions and answer from their results.',
  'If it is about a DAG run, answer from the run status and log lines given, or call run_status and run_logs.',
  'If the excerpts do not answer it, say so.',
].join(' ');

/** Questions about the local host, where the read-only facts tool is offered. */
export function isAboutLocalHost(question: string): boolean {
  return /\b(this|my|the local|local)\s+(host|machine|server|box|system)\b|\b(disk|free space|memory|ram|cpu|kvm|libvirt|hostname|os version|kernel)\b/i.test(question);
}

function sourcesOf(hits: readonly SearchHit[]): Answer['sources'] {
  return hits.map((hit, index) => ({ n: index + 1, file: hit.chunk.file, line: hit.chunk.startLine, heading: hit.chunk.heading }));
}

/**
 * Answers from the knowledge index with the model, which may call read-only host tools (`diag.*`) and,
 * given `runs`, read runs (`run_status`, `run_logs`); without a model, the best excerpts. A question
 * about a run (its id in the question or earlier in the conversation) is answered from that run's
 * status and failed tasks' logs, read first; `history` is the conversation so far.
 */
export async function ask(service: AiService, question: string, options: { diag: HostDiag; runs?: RunLookup; history?: readonly Turn[]; signal?: AbortSignal }): Promise<Answer> {
  const history = options.history ?? [];
  const hits = await service.search(question, 5);
  const sources = sourcesOf(hits);
  const toolCalls: string[] = [];
  const runId = options.runs ? runIdIn(question, history) : undefined;
  const facts = runId && options.runs ? await runFacts(runId, options.runs, toolCalls) : undefined;
  const retrievalOnly = (reason: string): Answer => ({
    answer: [facts, hits.length ? hits.slice(0, 3).map((hit, index) => `[${index + 1}] ${hit.chunk.heading}\n${hit.chunk.text.slice(0, 600)}`).join('\n\n') : 'Nothing in the knowledge index matches.'].filter(Boolean).join('\n\n'),
    sources,
    source: 'retrieval',
    toolCalls: [...toolCalls],
    fallbackReason: reason,
  });
  if (service.config.analysis !== 'model') return retrievalOnly('QUBINODE_AI_ANALYSIS=rules');
  const functions = {
    ...(isAboutLocalHost(question) ? await diagFunctions(toolCalls, options.diag) : {}),
    ...(options.runs ? await runFunctions(toolCalls, options.runs) : {}),
  };
  const prompt = [
    ...(history.length ? ['Earlier in this conversation:', earlierTurns(history), ''] : []),
    `Question: ${question}`,
    ...(facts ? ['', facts] : []),
    '',
    'Documentation excerpts:',
    ...hits.map((hit, index) => `[${index + 1}] ${hit.chunk.file}:${hit.chunk.startLine} ${hit.chunk.heading}\n${hit.chunk.text.slice(0, 700)}`),
  ].join('\n');
  const deadline = deadlineSignal(service.config.timeoutMs, `model did not answer within ${service.config.timeoutMs}ms`, options.signal);
  const timeout = deadline.signal;
  try {
    const answer = await service.runtime.chat({ system: SYSTEM, prompt, maxTokens: 350, ...(Object.keys(functions).length ? { functions } : {}), signal: deadline.signal });
    const aboutHost = isAboutLocalHost(question);
    if (isDegenerate(answer)) return { ...(await withHostFacts(retrievalOnly('the model answer repeated itself (too small a model?)'), aboutHost, options.diag)), toolCalls };
    // The facts read for a run stay in front of the model's words: the user sees what it was told.
    return { answer: facts ? `${answer.trim()}\n\n${facts}` : answer.trim(), sources, source: 'model', toolCalls };
  } catch (error) {
    return withHostFacts(retrievalOnly(timeout.aborted ? `model did not answer within ${service.config.timeoutMs}ms` : (error as Error).message), isAboutLocalHost(question), options.diag);
  } finally {
    deadline.dispose();
  }
}
