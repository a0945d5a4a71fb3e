import type { ChatSessionModelFunctions } from 'node-llama-cpp' with { 'resolution-mode': 'import' };
import type { AiService } from './ai-service';
import type { SearchHit } from './knowledge-index';
import { localFacts } from './local-facts';

export interface Answer {
  answer: string;
  sources: { n: number; file: string; line: number; heading: string }[];
  source: 'model' | 'retrieval';
  /** Read-only tools the model called, with their arguments. */
  toolCalls: string[];
  fallbackReason?: string;
}

const SYSTEM = [
  'You answer questions about Qubinode Navigator (DAG workflows on Temporal for KVM hosts) from the numbered documentation excerpts.',
  'Cite excerpts as [1], [2]. Be brief. If the question is about this machine, call the local_facts function and answer from its result.',
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
export async function ask(service: AiService, question: string, options: { signal?: AbortSignal; dataDir?: string; toolBin?: string } = {}): Promise<Answer> {
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
  let functions: ChatSessionModelFunctions | undefined;
  if (isAboutLocalHost(question)) {
    const { defineChatSessionFunction } = await import('node-llama-cpp');
    functions = {
      local_facts: defineChatSessionFunction({
        description: 'Read-only facts of this host: OS, kernel, CPUs, memory, disk free, /dev/kvm, kvm modules, libvirt socket, installed tools',
        handler: () => {
          toolCalls.push('local_facts()');
          return localFacts({ ...(options.dataDir ? { dataDir: options.dataDir } : {}), ...(options.toolBin ? { toolBin: options.toolBin } : {}) });
        },
      }),
    };
  }
  const prompt = [`Question: ${question}`, '', 'Documentation excerpts:', ...hits.map((hit, index) => `[${index + 1}] ${hit.chunk.file}:${hit.chunk.startLine} ${hit.chunk.heading}\n${hit.chunk.text.slice(0, 700)}`)].join('\n');
  const timeout = AbortSignal.timeout(service.config.timeoutMs);
  try {
    const answer = await service.runtime.chat({ system: SYSTEM, prompt, maxTokens: 350, ...(functions ? { functions } : {}), signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout });
    return { answer: answer.trim(), sources, source: 'model', toolCalls };
  } catch (error) {
    return retrievalOnly(timeout.aborted ? `model did not answer within ${service.config.timeoutMs}ms` : (error as Error).message);
  }
}
