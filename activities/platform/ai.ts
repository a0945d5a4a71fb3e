import { Context } from '@temporalio/activity';
import { PROJECT_ROOT } from '../../config/config';
import * as path from 'node:path';
import type { AiActivities, SyncedSource } from '../../ai/activity-types';
import type { AiService } from '../../ai/ai-service';
import { FailureAnalysis, FailureFacts } from '../../dag-repos/actions/failure-analysis';
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
      const reason = typeof input.fallbackReason === 'string' ? input.fallbackReason.slice(0, 500) : undefined;
      if (!service) return analyseWithRules(facts, [], reason ?? 'this worker has no AI service');
      return service.analyseWithRules(facts, reason);
    },
    async 'ai.enrich'(input: { facts: FailureFacts; rules: FailureAnalysis }): Promise<FailureAnalysis> {
      // The prompt uses no host facts: none are gathered again.
      const facts = FailureFacts.parse(input.facts);
      const rules = FailureAnalysis.parse(input.rules);
      if (!service) return { ...rules, fallbackReason: 'model not asked: this worker has no AI service' };
      return service.enrich(facts, rules, { signal: Context.current().cancellationSignal });
    },
    async 'ai.refreshIndex'(source?: SyncedSource) {
      if (!service) return { added: 0, changed: 0, removed: 0, chunks: 0 };
      const syncedRepo = source && checkout ? { name: source.repo, dir: await checkout(source) } : undefined;
      const { added, changed, removed, chunks } = await service.updateIndex(syncedRepo ? { syncedRepo } : {});
      return { added, changed, removed, chunks };
    },
  };
}
