import { Context } from '@temporalio/activity';
import { PROJECT_ROOT } from '../../config/config';
import * as path from 'node:path';
import type { AiActivities, SyncedSource } from '../../ai/activity-types';
import type { AiService } from '../../ai/ai-service';
import { FailureFacts, type FailureAnalysis } from '../../ai/analysis';
import { localFacts } from '../../ai/local-facts';
import { analyseWithRules } from '../../ai/rules-analyser';

function withDiag(input: FailureFacts, dataDir?: string): FailureFacts {
  const facts = FailureFacts.parse(input);
  if (facts.diag) return facts;
  const all = localFacts({ ...(dataDir ? { dataDir } : {}), toolBin: path.join(PROJECT_ROOT, '.tools', 'venv', 'bin') });
  // A few facts that explain common failures; the whole set would crowd the model's small context.
  const keep = ['hostname', 'os', 'devKvm', 'libvirtSocket', 'diskRoot', 'diskData', 'memoryFree', 'tools'];
  return { ...facts, diag: Object.fromEntries(Object.entries(all).filter(([key]) => keep.includes(key))) };
}

/**
 * `ai.analyze` (model within its time limit, else rules) and `ai.analyzeWithRules` (the fallback the
 * analyzeFailure workflow uses when the first fails or times out). Neither ever fails a DAG run: they
 * run in their own workflow. Without a service (a worker built without AI) both answer from the rules.
 */
export function createAiActivities(service?: AiService, checkout?: (source: SyncedSource) => Promise<string>): AiActivities {
  return {
    async 'ai.analyze'(input: FailureFacts): Promise<FailureAnalysis> {
      const facts = withDiag(input, service?.config.storeDir);
      if (!service) return analyseWithRules(facts, [], 'this worker has no AI service');
      return service.analyse(facts, { signal: Context.current().cancellationSignal });
    },
    async 'ai.analyzeWithRules'(input: FailureFacts & { fallbackReason?: string }): Promise<FailureAnalysis> {
      const facts = withDiag(input, service?.config.storeDir);
      const hits = service ? await service.search(`${facts.errorType} ${facts.message}`, 3).catch(() => []) : [];
      return analyseWithRules(facts, hits.map((hit) => ({ chunkId: hit.chunk.id, file: hit.chunk.file, line: hit.chunk.startLine })), input.fallbackReason ?? 'fallback');
    },
    async 'ai.refreshIndex'(source?: SyncedSource) {
      if (!service) return { added: 0, changed: 0, removed: 0, chunks: 0 };
      const syncedRepo = source && checkout ? { name: source.repo, dir: await checkout(source) } : undefined;
      const { added, changed, removed, chunks } = await service.updateIndex(syncedRepo ? { syncedRepo } : {});
      return { added, changed, removed, chunks };
    },
  };
}
