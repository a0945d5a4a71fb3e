import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../config/config';
import { RETRIEVAL_PAIRS } from '../test/fixtures/ai/retrieval-pairs';
import { KnowledgeIndex } from './knowledge-index';
import { collectSources, type SourceRoots } from './sources';

describe('knowledge retrieval over the project docs', () => {
  let storeDir: string;
  let index: KnowledgeIndex;
  let roots: SourceRoots;

  before(async () => {
    storeDir = mkdtempSync(path.join(tmpdir(), 'qubinode-ai-index-'));
    roots = {
      projectRoot: PROJECT_ROOT,
      docDirs: [path.join(PROJECT_ROOT, 'docs')],
      dagDirs: [path.join(PROJECT_ROOT, 'dag-repos', 'examples')],
      helpDir: path.join(storeDir, 'help'),
      toolBin: path.join(storeDir, 'no-tools'), // tool help is covered by its own test below
    };
    index = new KnowledgeIndex({ storeDir });
    await index.update(await collectSources(roots));
  });
  after(() => rmSync(storeDir, { recursive: true, force: true }));

  it('finds the section that answers at least 80% of 30+ labelled questions in its top 5 (recall@5)', async (t) => {
    assert.ok(RETRIEVAL_PAIRS.length >= 30);
    const misses: string[] = [];
    for (const pair of RETRIEVAL_PAIRS) {
      const hits = await index.search(pair.question, 5);
      const found = hits.some((hit) => hit.chunk.file === pair.file && hit.chunk.heading.endsWith(pair.section));
      if (!found) misses.push(`${pair.question} → ${pair.section} (got: ${hits.map((hit) => hit.chunk.heading.split(' › ').at(-1)).join(' | ')})`);
    }
    const recall = 1 - misses.length / RETRIEVAL_PAIRS.length;
    t.diagnostic(`recall@5 = ${recall.toFixed(3)} over ${RETRIEVAL_PAIRS.length} questions; misses: ${misses.join(' ; ') || 'none'}`);
    assert.ok(recall >= 0.8, `recall@5 = ${recall.toFixed(2)}; misses:\n${misses.join('\n')}`);
  });

  it('cites chunks by file and line range and keeps code fences out of the heading structure', () => {
    const chunk = index.lexicalSearch('YAML quoting flow list', 1)[0]?.chunk;
    assert.ok(chunk);
    assert.equal(chunk.id, `${chunk.file}:${chunk.startLine}`);
    assert.ok(chunk.endLine >= chunk.startLine);
    assert.ok(!index.lexicalSearch('yaml-language-server schema', 5).some((hit) => hit.chunk.heading.includes('yaml-language-server')), 'a # comment in a code block is not a heading');
  });

  it('re-indexes only changed files and persists the index on disk', async () => {
    const again = new KnowledgeIndex({ storeDir });
    assert.deepEqual(again.size(), index.size());
    const sources = await collectSources(roots);
    const unchanged = await again.update(sources);
    assert.equal(unchanged.added + unchanged.changed + unchanged.removed, 0);
    const [first, ...rest] = sources;
    assert.ok(first);
    const changed = await again.update([{ ...first, text: `${first.text}\n\n## Added section\n\nfrobnicator quux\n`, hash: 'changed' }, ...rest.slice(1)]);
    assert.deepEqual({ added: changed.added, changed: changed.changed, removed: changed.removed }, { added: 0, changed: 1, removed: 1 });
    assert.equal(again.lexicalSearch('frobnicator quux', 1)[0]?.chunk.file, first.file);
  });

  it('indexes the --help of ansible-navigator and kcli when they are installed in the venv', async (t) => {
    const toolBin = path.join(PROJECT_ROOT, '.tools', 'venv', 'bin');
    const helpRoots = { ...roots, docDirs: [], dagDirs: [], toolBin };
    const sources = await collectSources(helpRoots);
    const tools = ['ansible-navigator', 'kcli'].filter((tool) => existsSync(path.join(toolBin, tool)));
    if (tools.length === 0) {
      t.skip('neither ansible-navigator nor kcli is installed in .tools/venv (run infra/setup.sh)');
      return;
    }
    for (const tool of tools) assert.ok(sources.some((source) => source.file === `help/${tool}.txt` && source.text.length > 200), `help of ${tool} captured`);
    const helpIndex = KnowledgeIndex.fromChunks([]);
    await helpIndex.update(sources);
    if (tools.includes('kcli')) assert.ok(helpIndex.lexicalSearch('kcli create vm image memory', 5).some((hit) => hit.chunk.file.startsWith('help/kcli')));
  });
});
