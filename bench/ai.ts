import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { AiService } from '../ai/ai-service';
import { chunkFile, type Chunk } from '../ai/chunker';
import { KnowledgeIndex } from '../ai/knowledge-index';
import { collectSources } from '../ai/sources';
import { EmbeddedVectorStore } from '../ai/vector-store';
import { loadConfig, PROJECT_ROOT } from '../config/config';
import { LABELLED_FAILURES, type LabelledFailure } from '../test/fixtures/ai/failure-logs';
import { analyseWithRules, categoryOf } from '../ai/rules-analyser';
import { RETRIEVAL_PAIRS } from '../test/fixtures/ai/retrieval-pairs';

/**
 * AI figures on this machine: retrieval latency over >= 5,000 chunks (BM25 alone and fused with
 * vectors), the usefulness of the rules and of the model over the labelled failures, and process
 * memory with the model loaded. The model is the one QUBINODE_AI_MODEL names (any GGUF), else the
 * 270M test model. A benchmark, not a test: it prints figures.
 */

const CHUNKS = Number(process.env.BENCH_AI_CHUNKS ?? 6000);
const QUERIES = Number(process.env.BENCH_AI_QUERIES ?? 400);
const DIMENSIONS = 640; // Gemma 3 270M's embedding size, as the runtime would store it.

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

function summary(label: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  return `${label.padEnd(34)} p50 ${percentile(sorted, 50).toFixed(2)} ms   p95 ${percentile(sorted, 95).toFixed(2)} ms   max ${(sorted.at(-1) ?? 0).toFixed(2)} ms`;
}

/** A seeded generator: the same corpus every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1664525 + 1013904223) % 2 ** 32;
    return state / 2 ** 32;
  };
}

/** Real chunks of docs/, the DAG repos and tool help, then variants of them (words shuffled in from other chunks) up to `count`. */
function corpus(real: readonly Chunk[], count: number): Chunk[] {
  const next = random(42);
  const words = real.flatMap((chunk) => chunk.text.split(/\s+/)).filter(Boolean);
  const chunks = [...real];
  for (let index = chunks.length; index < count; index += 1) {
    const base = real[index % real.length];
    if (!base) break;
    const extra = Array.from({ length: 80 }, () => words[Math.floor(next() * words.length)] ?? '').join(' ');
    chunks.push({ ...base, id: `synthetic/${index}.md:1`, file: `synthetic/${index}.md`, text: `${base.text.slice(0, 600)} ${extra}` });
  }
  return chunks;
}

/** Every Nth labelled failure, when BENCH_AI_SAMPLE asks for fewer than all (a bigger model is slower). */
function sampled(size: number): readonly LabelledFailure[] {
  if (size >= LABELLED_FAILURES.length) return LABELLED_FAILURES;
  const step = LABELLED_FAILURES.length / size;
  return Array.from({ length: size }, (_, index) => LABELLED_FAILURES[Math.floor(index * step)]).filter((entry): entry is LabelledFailure => entry !== undefined);
}

/**
 * What the rules and the model each contribute over the labelled failures: category accuracy of the
 * rules alone and of rules+model, how often the model's text was kept (and why not), its time per
 * analysis. The model never changes the category, so the two accuracies differ only if that breaks.
 */
async function usefulness(service: AiService): Promise<void> {
  let rulesRight = 0;
  const rulesTimes: number[] = [];
  for (const failure of LABELLED_FAILURES) {
    const started = performance.now();
    if (categoryOf(failure.facts) === failure.category) rulesRight += 1;
    rulesTimes.push(performance.now() - started);
  }
  const set = sampled(Number(process.env.BENCH_AI_SAMPLE ?? LABELLED_FAILURES.length));
  let enrichedRight = 0;
  let kept = 0;
  const reasons = new Map<string, number>();
  const modelTimes: number[] = [];
  for (const failure of set) {
    const rules = analyseWithRules(failure.facts);
    const started = performance.now();
    const final = await service.enrich(failure.facts, rules, { timeoutMs: 60_000 });
    modelTimes.push(performance.now() - started);
    if (final.category === failure.category) enrichedRight += 1;
    if (final.source === 'rules+model') kept += 1;
    else {
      const reason = /^model text not kept \(([^)]+)\)/.exec(final.fallbackReason ?? '')?.[1] ?? 'other';
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
  }
  const percent = (part: number, whole: number): string => `${((100 * part) / whole).toFixed(0)}% (${part}/${whole})`;
  const sortedModel = [...modelTimes].sort((a, b) => a - b);
  const sortedRules = [...rulesTimes].sort((a, b) => a - b);
  console.log(`[ai] usefulness over ${LABELLED_FAILURES.length} labelled failures${set.length < LABELLED_FAILURES.length ? ` (model on a fixed sample of ${set.length}: every ${(LABELLED_FAILURES.length / set.length).toFixed(1)}th, BENCH_AI_SAMPLE=${set.length})` : ''}, model ${await service.runtime.modelName()}, ${service.runtime.threads()} thread(s):`);
  console.log(`[ai]   category accuracy, rules alone      ${percent(rulesRight, LABELLED_FAILURES.length)}   (p50 ${percentile(sortedRules, 50).toFixed(2)} ms, p95 ${percentile(sortedRules, 95).toFixed(2)} ms)`);
  console.log(`[ai]   category accuracy, rules+model      ${percent(enrichedRight, set.length)}`);
  console.log(`[ai]   model text kept                     ${percent(kept, set.length)}   refused: ${[...reasons].map(([reason, count]) => `${reason} ${count}`).join(', ') || 'none'}`);
  console.log(`[ai]   model time per analysis             p50 ${(percentile(sortedModel, 50) / 1000).toFixed(1)} s   p95 ${(percentile(sortedModel, 95) / 1000).toFixed(1)} s   max ${((sortedModel.at(-1) ?? 0) / 1000).toFixed(1)} s`);
  console.log(`[ai]   peak RSS of this process            ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}

async function main(): Promise<void> {
  const config = loadConfig();
  const sources = await collectSources({
    projectRoot: PROJECT_ROOT,
    docDirs: [path.join(PROJECT_ROOT, 'docs')],
    dagDirs: config.dagDirectories.map((entry) => entry.dir),
    helpDir: path.join(config.ai.storeDir, 'help'),
    toolBin: path.join(PROJECT_ROOT, '.tools', 'venv', 'bin'),
  });
  const real = sources.flatMap((source) => chunkFile(source.file, source.text));
  const chunks = corpus(real, CHUNKS);
  const queries = Array.from({ length: QUERIES }, (_, index) => {
    const failure = LABELLED_FAILURES[index % LABELLED_FAILURES.length];
    return index % 2 === 0 ? (RETRIEVAL_PAIRS[index % RETRIEVAL_PAIRS.length]?.question ?? '') : `${failure?.facts.errorType ?? ''} ${failure?.facts.message ?? ''} ${failure?.facts.stderrTail ?? ''}`;
  });

  let started = performance.now();
  const vectors = new EmbeddedVectorStore();
  const next = random(7);
  await vectors.upsert(chunks.map((chunk) => ({ chunkId: chunk.id, file: chunk.file, vector: Array.from({ length: DIMENSIONS }, () => next() - 0.5) })));
  const index = KnowledgeIndex.fromChunks(chunks, { vectors });
  console.log(`[ai] index: ${chunks.length} chunks (${real.length} real from ${sources.length} files) built in ${(performance.now() - started).toFixed(0)} ms`);

  const lexical: number[] = [];
  const hybrid: number[] = [];
  const queryVectors = queries.map(() => Array.from({ length: DIMENSIONS }, () => next() - 0.5));
  for (let round = 0; round < 2; round += 1) {
    for (const [position, query] of queries.entries()) {
      started = performance.now();
      await index.search(query, 5, { mode: 'lexical' });
      if (round === 1) lexical.push(performance.now() - started);
      started = performance.now();
      await index.search(query, 5, { queryVector: queryVectors[position] ?? [] });
      if (round === 1) hybrid.push(performance.now() - started);
    }
  }
  console.log(summary(`[ai] retrieval lexical (BM25)`, lexical));
  console.log(summary(`[ai] retrieval hybrid (BM25+${DIMENSIONS}d RRF)`, hybrid));

  if (process.env.BENCH_AI_MODEL === '0') return;
  const storeDir = mkdtempSync(path.join(tmpdir(), 'qubinode-bench-ai-'));
  const service = new AiService({
    config: { ...config.ai, analysis: 'model', storeDir, timeoutMs: 120_000 },
    roots: { projectRoot: PROJECT_ROOT, docDirs: [path.join(PROJECT_ROOT, 'docs')], dagDirs: config.dagDirectories.map((entry) => entry.dir), helpDir: path.join(config.ai.storeDir, 'help'), toolBin: path.join(PROJECT_ROOT, '.tools', 'venv', 'bin') },
  });
  try {
    await service.index();
    const rssBefore = process.memoryUsage().rss;
    started = performance.now();
    await service.runtime.load();
    console.log(`[ai] model load: ${(performance.now() - started).toFixed(0)} ms (${await service.runtime.modelName()}, ${service.runtime.threads()} thread(s))`);
    await usefulness(service);
    const embedStarted = performance.now();
    await service.runtime.embed(queries.slice(0, 10));
    console.log(`[ai] query embedding (model): ${((performance.now() - embedStarted) / 10).toFixed(0)} ms per query`);
    const rss = process.memoryUsage().rss;
    console.log(`[ai] process RSS: ${(rssBefore / 2 ** 20).toFixed(0)} MiB before the model, ${(rss / 2 ** 20).toFixed(0)} MiB with it loaded (+${((rss - rssBefore) / 2 ** 20).toFixed(0)} MiB); peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  } finally {
    await service.dispose();
    rmSync(storeDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
