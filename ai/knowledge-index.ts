import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import MiniSearch from 'minisearch';
import { chunkFile, type Chunk } from './chunker';
import type { SourceFile } from './sources';
import type { VectorStore } from './vector-store';

export type Embedder = (texts: readonly string[]) => Promise<number[][]>;

export interface SearchHit {
  chunk: Chunk;
  /** Fused score (reciprocal rank fusion) or BM25 score for lexical-only searches. */
  score: number;
  via: 'lexical' | 'vector' | 'both';
}

export interface UpdateReport {
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  chunks: number;
  embedded: number;
}

interface StoredIndex {
  version: 1;
  files: Record<string, { hash: string }>;
  chunks: Chunk[];
}

const STOPWORDS = new Set('a an and are as at be but by can do does for from how i if in into is it its my no not of on or so that the their then there this to was what when where which who why will with you your'.split(' '));
const RRF_K = 60;
const CANDIDATES = 20;

function processTerm(term: string): string | null {
  const lower = term.toLowerCase();
  return lower.length < 2 || STOPWORDS.has(lower) ? null : lower;
}

const MAX_TERMS = 16;

function tokenize(text: string): string[] {
  return text.split(/[\s\-_./:,;()[\]{}"'`=|<>!?*#$@+]+/u);
}

/** Chunks indexed between two turns of the event loop while the lexical index is rebuilt. */
const LEXICAL_SLICE = 100;

/**
 * A lexical index of `chunks`, built a slice at a time: the worker that rebuilds it after a sync also serves
 * requests (`npm start`), and indexing every chunk at once held its event loop for tens of milliseconds.
 * Searches meanwhile use the previous index.
 */
async function lexicalIndexOf(chunks: readonly Chunk[]): Promise<MiniSearch<Chunk>> {
  const lexical = newLexical();
  for (let start = 0; start < chunks.length; start += LEXICAL_SLICE) {
    if (start > 0) await new Promise((resolve) => setImmediate(resolve));
    lexical.addAll(chunks.slice(start, start + LEXICAL_SLICE));
  }
  return lexical;
}

function newLexical(): MiniSearch<Chunk> {
  // BM25 over heading and text; the heading weighs more: it names what a section is about.
  return new MiniSearch<Chunk>({
    fields: ['heading', 'text'],
    idField: 'id',
    processTerm,
    tokenize,
    searchOptions: { boost: { heading: 3 }, combineWith: 'OR' },
  });
}

/**
 * Chunks of the docs, DAG repos and tool help, searchable by BM25 and (when an embedder is given)
 * by vectors, fused into one ranking. Persisted under `<storeDir>`; updates touch only changed files.
 */
export class KnowledgeIndex {
  private readonly files = new Map<string, { hash: string }>();
  private readonly chunks = new Map<string, Chunk>();
  private lexical = newLexical();

  constructor(private readonly options: { storeDir?: string; vectors?: VectorStore; embed?: Embedder } = {}) {
    const stored = this.storeFile();
    if (stored && existsSync(stored)) {
      const saved = JSON.parse(readFileSync(stored, 'utf8')) as StoredIndex;
      if (saved.version === 1) {
        for (const [file, entry] of Object.entries(saved.files)) this.files.set(file, entry);
        for (const chunk of saved.chunks) this.chunks.set(chunk.id, chunk);
      }
    }
    this.lexical.addAll([...this.chunks.values()]);
  }

  /** An in-memory index over given chunks (benchmarks, tests). */
  static fromChunks(chunks: readonly Chunk[], options: { vectors?: VectorStore; embed?: Embedder } = {}): KnowledgeIndex {
    const index = new KnowledgeIndex(options);
    for (const chunk of chunks) index.chunks.set(chunk.id, chunk);
    index.lexical.addAll([...chunks]);
    return index;
  }

  private storeFile(): string | undefined {
    return this.options.storeDir ? path.join(this.options.storeDir, 'knowledge.json') : undefined;
  }

  get vectorBackend(): VectorStore['kind'] | 'none' {
    return this.options.vectors && this.options.embed ? this.options.vectors.kind : 'none';
  }

  size(): { files: number; chunks: number } {
    return { files: this.files.size, chunks: this.chunks.size };
  }

  chunk(id: string): Chunk | undefined {
    return this.chunks.get(id);
  }

  /** Brings the index in line with `sources`: new and changed files are (re-)chunked and embedded, vanished ones dropped. */
  async update(sources: readonly SourceFile[], options: { rebuild?: boolean } = {}): Promise<UpdateReport> {
    const report: UpdateReport = { added: 0, changed: 0, removed: 0, unchanged: 0, chunks: 0, embedded: 0 };
    if (options.rebuild) {
      for (const file of this.files.keys()) await this.options.vectors?.deleteFile(file);
      this.files.clear();
      this.chunks.clear();
    }
    const seen = new Set<string>();
    const fresh: Chunk[] = [];
    for (const source of sources) {
      seen.add(source.file);
      const known = this.files.get(source.file);
      if (known?.hash === source.hash) {
        report.unchanged += 1;
        continue;
      }
      if (known) {
        report.changed += 1;
        await this.dropFile(source.file);
      } else report.added += 1;
      const chunks = chunkFile(source.file, source.text);
      for (const chunk of chunks) this.chunks.set(chunk.id, chunk);
      this.files.set(source.file, { hash: source.hash });
      fresh.push(...chunks);
    }
    for (const file of [...this.files.keys()]) {
      if (seen.has(file)) continue;
      report.removed += 1;
      await this.dropFile(file);
      this.files.delete(file);
    }
    if (this.options.vectors && this.options.embed && fresh.length > 0) {
      for (let start = 0; start < fresh.length; start += 32) {
        const batch = fresh.slice(start, start + 32);
        const vectors = await this.options.embed(batch.map((chunk) => `${chunk.heading}\n${chunk.text}`));
        await this.options.vectors.upsert(batch.map((chunk, index) => ({ chunkId: chunk.id, file: chunk.file, vector: vectors[index] ?? [] })));
        report.embedded += batch.length;
      }
    }
    if (report.added + report.changed + report.removed > 0 || options.rebuild) {
      this.lexical = await lexicalIndexOf([...this.chunks.values()]);
      this.save();
      await this.options.vectors?.flush();
    }
    report.chunks = this.chunks.size;
    return report;
  }

  private async dropFile(file: string): Promise<void> {
    for (const [id, chunk] of this.chunks) if (chunk.file === file) this.chunks.delete(id);
    await this.options.vectors?.deleteFile(file);
  }

  private save(): void {
    const file = this.storeFile();
    if (!file) return;
    mkdirSync(path.dirname(file), { recursive: true });
    const stored: StoredIndex = { version: 1, files: Object.fromEntries(this.files), chunks: [...this.chunks.values()] };
    writeFileSync(`${file}.tmp`, JSON.stringify(stored));
    renameSync(`${file}.tmp`, file);
  }

  /** BM25 only: synchronous and cheap. */
  lexicalSearch(query: string, limit: number): SearchHit[] {
    // Failure text makes long queries: distinct terms only, at most MAX_TERMS, and prefix expansion
    // only for short questions (on long queries it multiplies the terms and the latency for no gain).
    const terms = [...new Set(tokenize(query).map(processTerm).filter((term): term is string => term !== null))].slice(0, MAX_TERMS);
    return this.lexical
      .search(terms.join(' '), { prefix: (term) => terms.length <= 8 && term.length > 4 })
      .slice(0, limit)
      .flatMap((result) => {
        const chunk = this.chunks.get(String(result.id));
        return chunk ? [{ chunk, score: result.score, via: 'lexical' as const }] : [];
      });
  }

  /** Lexical and vector candidates fused by reciprocal rank; lexical alone when there are no vectors. */
  async search(query: string, limit: number, options: { mode?: 'lexical' | 'hybrid'; queryVector?: readonly number[] } = {}): Promise<SearchHit[]> {
    const lexical = this.lexicalSearch(query, Math.max(limit, CANDIDATES));
    const { vectors, embed } = this.options;
    if (options.mode === 'lexical' || !vectors || (!embed && !options.queryVector)) return lexical.slice(0, limit);
    const queryVector = options.queryVector ?? (await embed?.([query]))?.[0];
    if (!queryVector) return lexical.slice(0, limit);
    const dense = await vectors.search(queryVector, CANDIDATES);
    const fused = new Map<string, { score: number; lexical: boolean; vector: boolean }>();
    lexical.forEach((hit, rank) => fused.set(hit.chunk.id, { score: 1 / (RRF_K + rank + 1), lexical: true, vector: false }));
    dense.forEach((hit, rank) => {
      const entry = fused.get(hit.chunkId) ?? { score: 0, lexical: false, vector: false };
      fused.set(hit.chunkId, { score: entry.score + 1 / (RRF_K + rank + 1), lexical: entry.lexical, vector: true });
    });
    return [...fused]
      .sort((a, b) => b[1].score - a[1].score)
      .flatMap(([id, entry]) => {
        const chunk = this.chunks.get(id);
        return chunk ? [{ chunk, score: entry.score, via: entry.lexical && entry.vector ? ('both' as const) : entry.lexical ? ('lexical' as const) : ('vector' as const) }] : [];
      })
      .slice(0, limit);
  }
}
