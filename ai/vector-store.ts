import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { QdrantClient } from '@qdrant/js-client-rest' with { 'resolution-mode': 'import' };

export interface VectorPoint {
  chunkId: string;
  file: string;
  vector: number[];
}

export interface VectorHit {
  chunkId: string;
  score: number;
}

/** Where chunk vectors live: embedded on disk by default, Qdrant when QDRANT_URL is set. Same contract for both. */
export interface VectorStore {
  readonly kind: 'embedded' | 'qdrant';
  upsert(points: readonly VectorPoint[]): Promise<void>;
  /** Removes every vector of a file (before re-adding a changed file, or when it is gone). */
  deleteFile(file: string): Promise<void>;
  search(vector: readonly number[], limit: number): Promise<VectorHit[]>;
  count(): Promise<number>;
  /** Persists pending changes (a no-op for a server). */
  flush(): Promise<void>;
}

function normalise(vector: readonly number[]): Float32Array {
  const out = Float32Array.from(vector);
  let norm = 0;
  for (const value of out) norm += value * value;
  norm = Math.sqrt(norm) || 1;
  for (let index = 0; index < out.length; index += 1) out[index] = (out[index] ?? 0) / norm;
  return out;
}

/** Brute-force cosine over normalised vectors kept in memory and in one JSON file: exact, and fast enough for tens of thousands of chunks. */
export class EmbeddedVectorStore implements VectorStore {
  readonly kind = 'embedded';
  private readonly points = new Map<string, { file: string; vector: Float32Array }>();
  private dirty = false;

  constructor(private readonly file?: string) {
    if (file && existsSync(file)) {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as { points: { chunkId: string; file: string; vector: number[] }[] };
      for (const point of saved.points) this.points.set(point.chunkId, { file: point.file, vector: Float32Array.from(point.vector) });
    }
  }

  upsert(points: readonly VectorPoint[]): Promise<void> {
    for (const point of points) this.points.set(point.chunkId, { file: point.file, vector: normalise(point.vector) });
    this.dirty ||= points.length > 0;
    return Promise.resolve();
  }

  deleteFile(file: string): Promise<void> {
    for (const [id, point] of this.points) {
      if (point.file !== file) continue;
      this.points.delete(id);
      this.dirty = true;
    }
    return Promise.resolve();
  }

  search(vector: readonly number[], limit: number): Promise<VectorHit[]> {
    const query = normalise(vector);
    const hits: VectorHit[] = [];
    for (const [chunkId, point] of this.points) {
      if (point.vector.length !== query.length) continue;
      let score = 0;
      for (let index = 0; index < query.length; index += 1) score += (query[index] ?? 0) * (point.vector[index] ?? 0);
      hits.push({ chunkId, score });
    }
    return Promise.resolve(hits.sort((a, b) => b.score - a.score).slice(0, limit));
  }

  count(): Promise<number> {
    return Promise.resolve(this.points.size);
  }

  flush(): Promise<void> {
    if (!this.file || !this.dirty) return Promise.resolve();
    mkdirSync(path.dirname(this.file), { recursive: true });
    const points = [...this.points].map(([chunkId, point]) => ({ chunkId, file: point.file, vector: Array.from(point.vector, (value) => Math.round(value * 1e5) / 1e5) }));
    writeFileSync(`${this.file}.tmp`, JSON.stringify({ points }));
    renameSync(`${this.file}.tmp`, this.file);
    this.dirty = false;
    return Promise.resolve();
  }
}

/** Qdrant wants a UUID or an integer as point id: a chunk id maps to a stable UUID. */
function pointId(chunkId: string): string {
  const hex = createHash('sha1').update(chunkId).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export interface QdrantSettings {
  url: string;
  apiKey?: string;
  collection: string;
}

/** Vectors in a Qdrant collection (created on first upsert with the vectors' size, cosine distance). */
export class QdrantVectorStore implements VectorStore {
  readonly kind = 'qdrant';
  private clientPromise: Promise<QdrantClient> | undefined;
  private ready = false;

  constructor(private readonly settings: QdrantSettings) {}

  private client(): Promise<QdrantClient> {
    this.clientPromise ??= import('@qdrant/js-client-rest').then(({ QdrantClient }) => new QdrantClient({ url: this.settings.url, ...(this.settings.apiKey ? { apiKey: this.settings.apiKey } : {}), checkCompatibility: false }));
    return this.clientPromise;
  }

  private async ensureCollection(size: number): Promise<void> {
    if (this.ready) return;
    const client = await this.client();
    const { exists } = await client.collectionExists(this.settings.collection);
    if (!exists) {
      await client.createCollection(this.settings.collection, { vectors: { size, distance: 'Cosine' } });
      await client.createPayloadIndex(this.settings.collection, { field_name: 'file', field_schema: 'keyword', wait: true });
    }
    this.ready = true;
  }

  async upsert(points: readonly VectorPoint[]): Promise<void> {
    const first = points[0];
    if (!first) return;
    await this.ensureCollection(first.vector.length);
    const client = await this.client();
    await client.upsert(this.settings.collection, {
      wait: true,
      points: points.map((point) => ({ id: pointId(point.chunkId), vector: [...point.vector], payload: { chunkId: point.chunkId, file: point.file } })),
    });
  }

  async deleteFile(file: string): Promise<void> {
    const client = await this.client();
    const { exists } = await client.collectionExists(this.settings.collection);
    if (!exists) return;
    await client.delete(this.settings.collection, { wait: true, filter: { must: [{ key: 'file', match: { value: file } }] } });
  }

  async search(vector: readonly number[], limit: number): Promise<VectorHit[]> {
    const client = await this.client();
    const { exists } = await client.collectionExists(this.settings.collection);
    if (!exists) return [];
    const hits = await client.search(this.settings.collection, { vector: [...vector], limit, with_payload: true });
    return hits.map((hit) => ({ chunkId: String((hit.payload as { chunkId?: unknown } | null | undefined)?.chunkId ?? hit.id), score: hit.score }));
  }

  async count(): Promise<number> {
    const client = await this.client();
    const { exists } = await client.collectionExists(this.settings.collection);
    if (!exists) return 0;
    return (await client.count(this.settings.collection, { exact: true })).count;
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  /** Drops the collection (tests, `ai index --rebuild`). */
  async drop(): Promise<void> {
    const client = await this.client();
    const { exists } = await client.collectionExists(this.settings.collection);
    if (exists) await client.deleteCollection(this.settings.collection);
    this.ready = false;
  }
}
