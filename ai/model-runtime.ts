import * as os from 'node:os';
import * as path from 'node:path';
import type { ChatSessionModelFunctions, Llama, LlamaContext, LlamaContextSequence, LlamaEmbeddingContext, LlamaGrammar, LlamaModel } from 'node-llama-cpp' with { 'resolution-mode': 'import' };
import { resolveModelPath } from './model-path';

export interface ModelRuntimeSettings {
  /** QUBINODE_AI_MODEL, unresolved; see resolveModelPath. */
  model?: string;
  modelsDir: string;
  /** CPU threads for generation; 0: all cores but one (llama.cpp threads spin, and starve everything else on a busy host). */
  threads: number;
  contextSize: number;
}

interface Loaded {
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  /** The one sequence every generation uses in turn (a disposed sequence is not handed out again). */
  sequence: LlamaContextSequence;
  file: string;
}

export class ModelUnavailableError extends Error {
  override readonly name = 'ModelUnavailableError';
}

/**
 * The model stopped before its JSON was complete (token cap, abort) or wrote text that does not
 * parse. A grammar only constrains the tokens written, so a capped answer is cut mid-value; it is
 * refused whole, never repaired into something the model did not say.
 */
export class ModelOutputTruncatedError extends Error {
  override readonly name = 'ModelOutputTruncatedError';
  constructor(
    readonly stopReason: string,
    readonly length: number,
  ) {
    super(`model output not usable: stopped by ${stopReason} after ${length} characters without complete JSON`);
  }
}

/** Small models loop on one sentence; a penalty on recent tokens keeps a capped answer from being all repetition. */
const JSON_REPEAT_PENALTY = { lastTokens: 64, penalty: 1.15, frequencyPenalty: 0.1, presencePenalty: 0.1 };

/** The DRY penalty: repeated phrases of 3+ tokens get ever less likely (a small model's loop is one sentence again and again). */
const LOOP_GUARD = { dryRepeatPenalty: { strength: 0.8, base: 1.75, allowedLength: 3 } };

/**
 * One GGUF model per process, loaded on first use and shared by every analysis. Generations are
 * serialised: a 2-core host gains nothing from two at once, and one context sequence keeps memory flat.
 */
export class ModelRuntime {
  private loading: Promise<Loaded> | undefined;
  private embedding: Promise<LlamaEmbeddingContext> | undefined;
  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly settings: ModelRuntimeSettings) {}

  /** Loads the model if not yet loaded; rejects with ModelUnavailableError when there is none. */
  load(): Promise<Loaded> {
    this.loading ??= this.doLoad().catch((error: unknown) => {
      this.loading = undefined;
      throw error instanceof ModelUnavailableError ? error : new ModelUnavailableError(`cannot load the AI model: ${(error as Error).message}`);
    });
    return this.loading;
  }

  isLoaded(): boolean {
    return this.loading !== undefined;
  }

  private async doLoad(): Promise<Loaded> {
    const file = await resolveModelPath(this.settings.model, this.settings.modelsDir);
    if (!file) throw new ModelUnavailableError(`no AI model: set QUBINODE_AI_MODEL to a GGUF file, or put a Granite 4.0 Micro GGUF in ${this.settings.modelsDir}`);
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    // Never download or compile anything at run time: use the prebuilt CPU binary shipped in the npm package.
    const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, usePrebuiltBinaries: true, progressLogs: false, logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: file });
    const context = await model.createContext({ contextSize: Math.min(this.settings.contextSize, model.trainContextSize), threads: this.threads() });
    return { llama, model, context, sequence: context.getSequence(), file };
  }

  /** Measured on the 2-core host: 2 threads beside a busy worker ran 6-10x slower than 1. */
  threads(): number {
    return this.settings.threads > 0 ? this.settings.threads : Math.max(1, os.availableParallelism() - 1);
  }

  /** The model file's name once loaded (for `source: 'model'` analyses). */
  async modelName(): Promise<string> {
    return path.basename((await this.load()).file);
  }

  /** Runs `work` alone; waiting in the queue also ends when `signal` aborts. */
  private exclusive<T>(signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      signal?.throwIfAborted();
      return work();
    });
    this.queue = run.catch(() => undefined);
    if (!signal) return run;
    return Promise.race([run, new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }))]);
  }

  private grammarFor(llama: Llama, schema: object): Promise<LlamaGrammar> {
    const key = JSON.stringify(schema);
    let grammar = this.grammars.get(key);
    if (!grammar) {
      grammar = llama.createGrammarForJsonSchema(schema as Parameters<Llama['createGrammarForJsonSchema']>[0]);
      this.grammars.set(key, grammar);
    }
    return grammar;
  }

  /** One answer constrained by a JSON schema grammar; returns the raw JSON text. */
  async generateJson(options: { system: string; prompt: string; schema: object; maxTokens: number; signal?: AbortSignal }): Promise<string> {
    const loaded = await this.load();
    const grammar = await this.grammarFor(loaded.llama, options.schema);
    const { text, stopReason } = await this.exclusive(options.signal, () => this.promptJson(loaded, options.system, options.prompt, { grammar, maxTokens: options.maxTokens, ...(options.signal ? { signal: options.signal } : {}) }));
    if (stopReason !== 'eogToken' && stopReason !== 'stopGenerationTrigger') throw new ModelOutputTruncatedError(stopReason, text.length);
    try {
      JSON.parse(text);
    } catch {
      throw new ModelOutputTruncatedError(stopReason, text.length);
    }
    return text;
  }

  private async promptJson(loaded: Loaded, system: string, text: string, options: { grammar: LlamaGrammar; maxTokens: number; signal?: AbortSignal }): Promise<{ text: string; stopReason: string }> {
    const { LlamaChatSession } = await import('node-llama-cpp');
    await loaded.sequence.clearHistory();
    const session = new LlamaChatSession({ contextSequence: loaded.sequence, autoDisposeSequence: false, systemPrompt: system });
    try {
      const answer = await session.promptWithMeta(text, { grammar: options.grammar, maxTokens: options.maxTokens, repeatPenalty: JSON_REPEAT_PENALTY, ...(options.signal ? { signal: options.signal } : {}) });
      return { text: answer.responseText, stopReason: answer.stopReason };
    } finally {
      session.dispose({ disposeSequence: false });
    }
  }

  /**
   * One sentence that starts with `prefix`: generation stops at the end of the line or at `maxTokens`
   * (then ModelOutputTruncatedError), with the loop guard on. Returns the sentence, prefix included.
   */
  async sentence(options: { system: string; prompt: string; prefix: string; maxTokens: number; signal?: AbortSignal }): Promise<string> {
    const loaded = await this.load();
    const { LlamaChatSession } = await import('node-llama-cpp');
    const { text, stopReason } = await this.exclusive(options.signal, async () => {
      await loaded.sequence.clearHistory();
      const session = new LlamaChatSession({ contextSequence: loaded.sequence, autoDisposeSequence: false, systemPrompt: options.system });
      try {
        const answer = await session.promptWithMeta(options.prompt, {
          maxTokens: options.maxTokens,
          temperature: 0.2,
          repeatPenalty: JSON_REPEAT_PENALTY,
          ...LOOP_GUARD,
          customStopTriggers: ['\n'],
          responsePrefix: options.prefix,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        return { text: answer.responseText, stopReason: answer.stopReason };
      } finally {
        session.dispose({ disposeSequence: false });
      }
    });
    if (stopReason !== 'eogToken' && stopReason !== 'customStopTrigger' && stopReason !== 'stopGenerationTrigger') throw new ModelOutputTruncatedError(stopReason, text.length);
    return text.trim();
  }

  /** A free-text answer; the model may call `functions` (read-only tools) while answering. */
  async chat(options: { system: string; prompt: string; maxTokens: number; functions?: ChatSessionModelFunctions; signal?: AbortSignal }): Promise<string> {
    const loaded = await this.load();
    return this.exclusive(options.signal, () =>
      this.prompt(loaded, options.system, options.prompt, { maxTokens: options.maxTokens, ...(options.functions ? { functions: options.functions } : {}), ...(options.signal ? { signal: options.signal } : {}) }),
    );
  }

  private async prompt(loaded: Loaded, system: string, text: string, options: { maxTokens: number; functions?: ChatSessionModelFunctions; signal?: AbortSignal }): Promise<string> {
    const { LlamaChatSession } = await import('node-llama-cpp');
    await loaded.sequence.clearHistory();
    const session = new LlamaChatSession({ contextSequence: loaded.sequence, autoDisposeSequence: false, systemPrompt: system });
    try {
      return await session.prompt(text, { maxTokens: options.maxTokens, ...(options.functions ? { functions: options.functions } : {}), ...(options.signal ? { signal: options.signal } : {}) });
    } finally {
      session.dispose({ disposeSequence: false });
    }
  }

  /** Dense vectors for retrieval, from the same model (a small embedding context beside the chat one). */
  async embed(texts: readonly string[]): Promise<number[][]> {
    const loaded = await this.load();
    this.embedding ??= loaded.model.createEmbeddingContext({ contextSize: 512, threads: this.threads() });
    const context = await this.embedding;
    const vectors: number[][] = [];
    for (const text of texts) {
      // The embedding context holds 512 tokens: the head of a chunk carries its heading and topic.
      const embedding = await this.exclusive(undefined, () => context.getEmbeddingFor(text.slice(0, 1200)));
      vectors.push([...embedding.vector]);
    }
    return vectors;
  }

  async dispose(): Promise<void> {
    const loading = this.loading;
    this.loading = undefined;
    if (!loading) return;
    const loaded = await loading.catch(() => undefined);
    await (await this.embedding?.catch(() => undefined))?.dispose();
    await loaded?.context.dispose();
    await loaded?.model.dispose();
    await loaded?.llama.dispose();
  }
}
