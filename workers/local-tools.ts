import type { QubinodeConfig } from '../config/config';
import type { ActionRegistry } from '../dag-repos/actions/registry';
import type * as Ask from '../ai/ask';
import type * as Conversations from '../ai/conversations';
import type { AiService } from '../ai/ai-service';
import type * as CreateAiService from '../ai/create-ai-service';
import type * as DraftDagFile from '../ai/draft-dag-file';
import type * as LocalFacts from '../ai/local-facts';
import type * as PluginActions from '../plugins/plugin-actions';
import type { DagTemplate } from '../plugins/plugin-api';

// An entry module of the worker side, like main.ts: what the CLI runs in its own process from below the
// client. The plugins' actions for the local compile and their DAG templates; the knowledge index and
// the model of `qubinode ai`. Each part loads when first asked for, so the registry that
// `qubinode dag validate` needs does not load the model runtime.
const pluginActions = (): typeof PluginActions => require('../plugins/plugin-actions') as typeof PluginActions;

export type { AiService };
export type { RunLookup } from '../ai/ask';

/** The conversations of `qubinode ai ask --conversation`, kept under the AI store. */
export function conversationStore(config: Pick<QubinodeConfig, 'ai'>): Conversations.ConversationStore {
  const { ConversationStore } = require('../ai/conversations') as typeof Conversations;
  return new ConversationStore(`${config.ai.storeDir}/conversations`);
}

/** Built-in actions plus those of the configured plugins. */
export function configuredActionRegistry(config: Pick<QubinodeConfig, 'pluginDirs'>): ActionRegistry {
  const { actionRegistryWith, loadConfiguredPlugins } = pluginActions();
  return actionRegistryWith(loadConfiguredPlugins(config));
}

/** The DAG templates the configured plugins offer, each with the plugin's name. */
export function pluginDagTemplates(config: Pick<QubinodeConfig, 'pluginDirs'>): (DagTemplate & { plugin: string })[] {
  return pluginActions()
    .loadConfiguredPlugins(config)
    .flatMap((plugin) => (plugin.dagTemplates ?? []).map((template) => ({ ...template, plugin: plugin.name })));
}

export const createAiService = (...args: Parameters<typeof CreateAiService.createAiService>): AiService => (require('../ai/create-ai-service') as typeof CreateAiService).createAiService(...args);

export const ask: typeof Ask.ask = (...args) => (require('../ai/ask') as typeof Ask).ask(...args);

export const localFacts: typeof LocalFacts.localFacts = (...args) => (require('../ai/local-facts') as typeof LocalFacts).localFacts(...args);

export type { DraftedDagFile } from '../ai/draft-dag-file';

/** A sentence `dag new` refuses before drafting (length, control characters). */
export const SentenceRefusedError = (): typeof DraftDagFile.SentenceRefusedError => (require('../ai/draft-dag-file') as typeof DraftDagFile).SentenceRefusedError;

/**
 * `qubinode dag new`: a DAG drafted from a sentence and checked by the compiler. The model is used when
 * the analysis mode is `model` and `useModel` holds; it is loaded for this call and released after it.
 */
export async function draftDagFromSentence(config: QubinodeConfig, registry: ActionRegistry, sentence: string, options: { useModel: boolean; fileName: (id: string) => string }): Promise<DraftDagFile.DraftedDagFile> {
  const { draftDagFile } = require('../ai/draft-dag-file') as typeof DraftDagFile;
  const service = options.useModel && config.ai.analysis === 'model' ? createAiService(config) : undefined;
  try {
    return await draftDagFile(service?.runtime, registry, sentence, options.fileName);
  } finally {
    await service?.dispose();
  }
}
