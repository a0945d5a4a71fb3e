import type { ChatSessionModelFunctions } from 'node-llama-cpp' with { 'resolution-mode': 'import' };
import type { DiagTool } from '../dag-repos/actions/diag-input';
import type { AiService } from './ai-service';
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
  'If the excerpts do not answer it, say so.',
].join(' ');

/** Questions about the local host, where the read-only facts tool is offered. */
export function isAboutLocalHost(question: string): boolean {
  return /\b(this|my|the local|local)\s+(host|machine|server|box|system)\b|\b(disk|free space|memory|ram|cpu|kvm|libvirt|hostname|os version|kernel)\b/i.test(question);
}

function sourcesOf(hits: readonly SearchHit[]): Answer['sources'] {
  return hits.map((hit, index) => ({ n: index + 1, file: hit.chunk.file, line: hit.chunk.startLine, heading: hit.chunk.heading }));
}

/** Answers from the knowledge index with the model, which may call read-only host tools; without a model, the best excerpts. */
export async function ask(service: AiService, question: string, options: { diag: HostDiag; signal?: AbortSignal }): Promise<Answer> {
  const hits = await service.search(question, 5);
  const sources = sourcesOf(hits);
  const retrievalOnly = (reason: string): Answer => ({
    answer: hits.length ? hits.slice(0, 3).map((hit, index) => `[${index + 1}] ${hit.chunk.heading}\n${hit.chunk.text.slice(0, 600)}`).join('\n\n') : 'Nothing in the knowledge index matches.',
    sources,
    source: 'retrieval',
    toolCalls: [],
    fallbackReason: reason,
  });
  if (service.config.analysis !== 'model') return retrievalOnly('QUBINODE_AI_ANALYSIS=rules');
  const toolCalls: string[] = [];
  const functions = isAboutLocalHost(question) ? await diagFunctions(toolCalls, options.diag) : undefined;
  const prompt = [`Question: ${question}`, '', 'Documentation excerpts:', ...hits.map((hit, index) => `[${index + 1}] ${hit.chunk.file}:${hit.chunk.startLine} ${hit.chunk.heading}\n${hit.chunk.text.slice(0, 700)}`)].join('\n');
  const deadline = deadlineSignal(service.config.timeoutMs, `model did not answer within ${service.config.timeoutMs}ms`, options.signal);
  const timeout = deadline.signal;
  try {
    const answer = await service.runtime.chat({ system: SYSTEM, prompt, maxTokens: 350, ...(functions ? { functions } : {}), signal: deadline.signal });
    if (isDegenerate(answer)) return { ...(await withHostFacts(retrievalOnly('the model answer repeated itself (too small a model?)'), functions !== undefined, options.diag)), toolCalls };
    return { answer: answer.trim(), sources, source: 'model', toolCalls };
  } catch (error) {
    return withHostFacts(retrievalOnly(timeout.aborted ? `model did not answer within ${service.config.timeoutMs}ms` : (error as Error).message), functions !== undefined, options.diag);
  } finally {
    deadline.dispose();
  }
}
