import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Chunk } from './chunker';
import { KnowledgeIndex } from './knowledge-index';
import { EmbeddedVectorStore, QdrantVectorStore, type VectorStore } from './vector-store';

/** Deterministic 8-dimensional "embeddings": the store's contract is about storage and ranking, not about the model. */
function vectorFor(text: string): number[] {
  const vector = new Array<number>(8).fill(0);
  for (const word of text.toLowerCase().split(/\W+/)) {
    const slot = [...word].reduce((sum, char) => sum + char.charCodeAt(0), 0) % 8;
    if (word) vector[slot] = (vector[slot] ?? 0) + 1;
  }
  return vector;
}

async function exerciseStore(store: VectorStore): Promise<void> {
  await store.upsert([
    { chunkId: 'a.md:1', file: 'a.md', vector: [1, 0, 0, 0] },
    { chunkId: 'a.md:9', file: 'a.md', vector: [0.9, 0.1, 0, 0] },
    { chunkId: 'b.md:1', file: 'b.md', vector: [0, 1, 0, 0] },
  ]);
  await store.flush();
  assert.equal(await store.count(), 3);
  assert.deepEqual((await store.search([1, 0, 0, 0], 2)).map((hit) => hit.chunkId), ['a.md:1', 'a.md:9']);
  await store.deleteFile('a.md');
  await store.flush();
  assert.equal(await store.count(), 1);
  assert.deepEqual((await store.search([1, 0, 0, 0], 5)).map((hit) => hit.chunkId), ['b.md:1']);
}

describe('vector stores behind one interface', () => {
  it('the embedded store ranks by cosine, deletes by file and persists across instances', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'qubinode-vectors-'));
    try {
      const file = path.join(dir, 'vectors.json');
      await exerciseStore(new EmbeddedVectorStore(file));
      const reopened = new EmbeddedVectorStore(file);
      assert.equal(await reopened.count(), 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the Qdrant store passes the same checks against a real Qdrant', async (t) => {
    const url = process.env.QDRANT_URL;
    if (!url) {
      t.skip('QDRANT_URL is not set: no Qdrant server to test against (the embedded store is tested above)');
      return;
    }
    const store = new QdrantVectorStore({ url, ...(process.env.QDRANT_API_KEY ? { apiKey: process.env.QDRANT_API_KEY } : {}), collection: `qubinode-test-${randomUUID().slice(0, 8)}` });
    try {
      await exerciseStore(store);
    } finally {
      await store.drop();
    }
  });

  it('fuses lexical and vector rankings so a chunk found by meaning alone still ranks', async () => {
    const chunks: Chunk[] = [
      { id: 'x.md:1', file: 'x.md', startLine: 1, endLine: 3, heading: 'Libvirt', text: 'start the libvirtd service with systemctl' },
      { id: 'y.md:1', file: 'y.md', startLine: 1, endLine: 3, heading: 'Disks', text: 'free space on the image pool' },
      { id: 'z.md:1', file: 'z.md', startLine: 1, endLine: 3, heading: 'Network', text: 'dnsmasq resolves the VM names' },
    ];
    const store = new EmbeddedVectorStore();
    await store.upsert(chunks.map((chunk) => ({ chunkId: chunk.id, file: chunk.file, vector: vectorFor(chunk.text) })));
    const index = KnowledgeIndex.fromChunks(chunks, { vectors: store, embed: (texts) => Promise.resolve(texts.map(vectorFor)) });
    assert.equal(index.vectorBackend, 'embedded');
    const lexical = await index.search('libvirtd systemctl', 3, { mode: 'lexical' });
    assert.deepEqual(lexical.map((hit) => hit.chunk.id), ['x.md:1']);
    const hybrid = await index.search('libvirtd systemctl', 3);
    assert.equal(hybrid[0]?.chunk.id, 'x.md:1');
    assert.equal(hybrid[0]?.via, 'both');
    assert.equal(hybrid.length, 3, 'vector candidates join the lexical ones');
  });
});
