import * as path from 'node:path';
import type { AiConfig } from '../config/config';
import { failureText, type FailureAnalysis, type FailureFacts } from '../dag-repos/actions/failure-analysis';
import { KnowledgeIndex, type SearchHit, type UpdateReport } from './knowledge-index';
import { analyseWithModel, referencesOf } from './llm-analyser';
import { enrichWithModel, ModelTextRejectedError } from './llm-enricher';
import { describeModel } from './model-path';
import { ModelRuntime } from './model-runtime';
import { analyseWithRules, classifyFailure } from './rules-analyser';
import { collectSources, type SourceRoots } from './sources';
import { EmbeddedVectorStore, QdrantVectorStore, type VectorStore } from './vector-store';
import { deadlineSignal } from '../config/deadline-signal';

export interface AiServiceOptions {
  config: AiConfig;
  /** What the knowledge index is built from. */
  roots: SourceRoots;
  /** Skip re-scanning sources if the last scan is younger than this (analyses come in bursts). */
  refreshIntervalMs?: number;
}

export interface AiStatus {
  analysis: AiConfig['analysis'];
  model: { configured: string; file: string; threads: number; loaded: boolean };
  index: { files: number; chunks: number; lexical: 'minisearch-bm25'; vectors: VectorStore['kind'] | 'none'; vectorCount: number; storeDir: string };
}

/**
 * The AI side of one process (a worker or a CLI command): one model runtime, one knowledge index.
 * Built once by the activity factory and shared by every analysis the worker runs.
 */
export class AiService {
  readonly runtime: ModelRuntime;
  private indexPromise: Promise<KnowledgeIndex> | undefined;
  private lastRefresh = 0;
  private updating: Promise<unknown> = Promise.resolve();
  private readonly vectors: VectorStore | undefined;
  /** Checkouts of Git-synced repositories, by repository name: indexed alongside the configured DAG directories. */
  private readonly syncedRepoDirs = new Map<string, string>();

  constructor(private readonly options: AiServiceOptions) {
    const { config } = options;
    this.runtime = new ModelRuntime({ ...(config.model ? { model: config.model } : {}), modelsDir: config.modelsDir, threads: config.threads, contextSize: config.contextSize });
    this.vectors = !config.vectors ? undefined : config.qdrant ? new QdrantVectorStore(config.qdrant) : new EmbeddedVectorStore(path.join(config.storeDir, 'vectors.json'));
  }

  get config(): AiConfig {
    return this.options.config;
  }

  /** The index, refreshed from its sources (only changed files are re-chunked) unless refreshed a moment ago. */
  async index(options: { refresh?: boolean } = {}): Promise<KnowledgeIndex> {
    this.indexPromise ??= Promise.resolve(
      new KnowledgeIndex({ storeDir: this.options.config.storeDir, ...(this.vectors ? { vectors: this.vectors, embed: (texts) => this.runtime.embed(texts) } : {}) }),
    );
    const index = await this.indexPromise;
    const due = Date.now() - this.lastRefresh > (this.options.refreshIntervalMs ?? 60_000);
    if (options.refresh ?? due) await this.updateIndex();
    return index;
  }

  /** Re-indexes changed sources; `rebuild` starts from nothing. */
  async updateIndex(options: { rebuild?: boolean; syncedRepo?: { name: string; dir: string } } = {}): Promise<UpdateReport> {
    this.lastRefresh = Date.now();
    if (options.syncedRepo) this.syncedRepoDirs.set(options.syncedRepo.name, options.syncedRepo.dir);
    const roots = { ...this.options.roots, dagDirs: [...this.options.roots.dagDirs, ...this.syncedRepoDirs.values()] };
    // One update at a time: concurrent analyses would otherwise re-chunk the same files together.
    const run = this.updating.then(async () => {
      const index = await this.index({ refresh: false });
      if (options.rebuild && this.vectors instanceof QdrantVectorStore) await this.vectors.drop();
      return index.update(await collectSources(roots), options);
    });
    this.updating = run.catch(() => undefined);
    return run;
  }

  async search(query: string, limit: number): Promise<SearchHit[]> {
    const index = await this.index();
    return index.search(query, limit);
  }

  /**
   * Analyses one failure: retrieval, then the model within the time limit, else the rules. Never
   * throws for a model problem: a missing model, a timeout or invalid output all give the rules' answer.
   */
  async analyse(facts: FailureFacts, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<FailureAnalysis> {
    const started = Date.now();
    const hits = await this.retrieve(facts).catch(() => [] as SearchHit[]);
    if (this.options.config.analysis !== 'model') return { ...analyseWithRules(facts, referencesOf(hits.slice(0, 3)), `QUBINODE_AI_ANALYSIS=${this.options.config.analysis}`), elapsedMs: Date.now() - started };
    const limit = options.timeoutMs ?? this.options.config.timeoutMs;
    const deadline = deadlineSignal(Math.max(1, limit - (Date.now() - started)), `model did not answer within ${limit}ms`, options.signal);
    try {
      return await analyseWithModel(this.runtime, facts, hits.slice(0, 4), deadline.signal);
    } catch (error) {
      options.signal?.throwIfAborted();
      const reason = deadline.signal.aborted ? `model did not answer within ${limit}ms` : `${(error as Error).name}: ${(error as Error).message}`;
      return { ...analyseWithRules(facts, referencesOf(hits.slice(0, 3)), reason), elapsedMs: Date.now() - started };
    } finally {
      deadline.dispose();
    }
  }

  /**
   * The rules' answer alone, in milliseconds: lexical retrieval on the index as it stands (no re-scan,
   * no query embedding, so the model is never loaded for it).
   */
  async analyseWithRules(facts: FailureFacts, fallbackReason?: string): Promise<FailureAnalysis> {
    const started = Date.now();
    const index = await this.index({ refresh: false });
    const category = classifyFailure(facts)?.pattern;
    const hits = await index.search([facts.action, facts.errorType, category?.summary ?? '', failureText(facts).slice(-600)].join(' '), 3, { mode: 'lexical' }).catch(() => [] as SearchHit[]);
    return { ...analyseWithRules(facts, referencesOf(hits), fallbackReason), elapsedMs: Date.now() - started };
  }

  /**
   * The model's plain-language summary and likely cause on top of the rules' answer, within the time
   * limit. Never throws for a model problem: the rules' answer comes back with `fallbackReason` saying
   * why the model's text was not kept.
   */
  async enrich(facts: FailureFacts, rules: FailureAnalysis, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<FailureAnalysis> {
    // The rules' answer is out already: bring the index up to date now (changed sources only, when due), so the
    // next rules answer cites the current docs and DAGs. A failed refresh costs only references.
    await this.index().catch(() => undefined);
    if (this.options.config.analysis !== 'model') return { ...rules, fallbackReason: `model not asked: QUBINODE_AI_ANALYSIS=${this.options.config.analysis}` };
    const limit = options.timeoutMs ?? this.options.config.timeoutMs;
    const deadline = deadlineSignal(limit, `model did not answer within ${limit}ms`, options.signal);
    try {
      return await enrichWithModel(this.runtime, facts, rules, deadline.signal);
    } catch (error) {
      options.signal?.throwIfAborted();
      const reason = deadline.signal.aborted
        ? `model text not kept (timeout): model did not answer within ${limit}ms`
        : error instanceof ModelTextRejectedError
          ? `model text not kept (${error.reason}): ${error.message}`
          : `model text not kept (error): ${(error as Error).name}: ${(error as Error).message}`;
      return { ...rules, fallbackReason: reason };
    } finally {
      deadline.dispose();
    }
  }

  /** Doc chunks relevant to a failure: searched by the error text and the category the rules see. */
  private async retrieve(facts: FailureFacts): Promise<SearchHit[]> {
    const category = classifyFailure(facts)?.pattern;
    const query = [facts.action, facts.errorType, category?.summary ?? '', failureText(facts).slice(-600)].join(' ');
    return this.search(query, 5);
  }

  async status(): Promise<AiStatus> {
    const index = await this.index({ refresh: false });
    return {
      analysis: this.options.config.analysis,
      model: { configured: this.options.config.model ?? 'auto', file: describeModel(this.options.config.model, this.options.config.modelsDir), threads: this.runtime.threads(), loaded: this.runtime.isLoaded() },
      index: { ...index.size(), lexical: 'minisearch-bm25', vectors: index.vectorBackend, vectorCount: (await this.vectors?.count()) ?? 0, storeDir: this.options.config.storeDir },
    };
  }

  async dispose(): Promise<void> {
    await this.runtime.dispose();
  }
}
