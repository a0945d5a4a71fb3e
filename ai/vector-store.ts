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
    this.matrix = undefined;
    return Promise.resolve();
  }

  deleteFile(file: string): Promise<void> {
    for (const [id, point] of this.points) {
      if (point.file !== file) continue;
      this.points.delete(id);
      this.dirty = true;
      this.matrix = undefined;
    }
    return Promise.resolve();
  }

  /** Vectors packed row by row into one array (rebuilt after changes): a tight loop, no per-point objects. */
  private matrix: { ids: string[]; data: Float32Array; dims: number } | undefined;

  private packed(dims: number): { ids: string[]; data: Float32Array; dims: number } {
    if (this.matrix?.dims === dims) return this.matrix;
    const rows = [...this.points].filter(([, point]) => point.vector.length === dims);
    const data = new Float32Array(rows.length * dims);
    rows.forEach(([, point], row) => data.set(point.vector, row * dims));
    this.matrix = { ids: rows.map(([id]) => id), data, dims };
    return this.matrix;
  }

  search(vector: readonly number[], limit: number): Promise<VectorHit[]> {
    const query = normalise(vector);
    const { ids, data, dims } = this.packed(query.length);
    // Keep only the best `limit` while scanning: sorting every score costs more than the dot products.
    const best: VectorHit[] = [];
    for (let row = 0; row < ids.length; row += 1) {
      let score = 0;
      const offset = row * dims;
      for (let index = 0; index < dims; index += 1) score += (query[index] as number) * (data[offset + index] as number);
      if (best.length === limit && score <= (best[limit - 1]?.score ?? -Infinity)) continue;
      let at = best.length;
      while (at > 0 && (best[at - 1]?.score ?? 0) < score) at -= 1;
      best.splice(at, 0, { chunkId: ids[row] ?? '', score });
      if (best.length > limit) best.pop();
    }
    return Promise.resolve(best);
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
