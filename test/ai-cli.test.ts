import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { PROJECT_ROOT } from '../config/config';

const dataDir = mkdtempSync(path.join(tmpdir(), 'qubinode-ai-cli-'));

/** The CLI from its TypeScript sources (dist/ may be older than this change), with its own data dir. */
function ai(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'cli', 'main.ts'), 'ai', ...args], { cwd: PROJECT_ROOT, env: { ...process.env, QUBINODE_DATA_DIR: dataDir, QUBINODE_AI_ANALYSIS: 'rules' }, timeout: 120_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('qubinode ai commands', () => {
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('builds the index, then re-indexes nothing when nothing changed', async () => {
    const first = await ai(['index']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /index updated in \d+ms: [1-9]\d* added, 0 changed, 0 removed, 0 unchanged files; \d+ chunks/);
    const second = await ai(['index']);
    assert.match(second.stdout, /: 0 added, 0 changed, 0 removed, [1-9]\d* unchanged files/);
  });

  it('reports model, index size and backends as JSON', async () => {
    const result = await ai(['status', '--json']);
    assert.equal(result.code, 0, result.stderr);
    const status = JSON.parse(result.stdout) as { analysis: string; index: { chunks: number; lexical: string; vectors: string } };
    assert.equal(status.analysis, 'rules');
    assert.ok(status.index.chunks > 10);
    assert.equal(status.index.lexical, 'minisearch-bm25');
    assert.equal(status.index.vectors, 'none');
  });

  it('answers a question with cited sources (excerpts only in rules mode)', async () => {
    const result = await ai(['ask', 'how do I retry a task with a delay and backoff?']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Sources:\n\s+\[1\] docs\/[\w-]+\.md:\d+/);
    assert.match(result.stdout, /docs\/dag-format\.md:\d+ .*Retries and timeouts|docs\/dag-format\.md:\d+ .*Task fields/);
  });

  it('keeps a conversation by id across questions, and refuses an id that is not one', async () => {
    const first = await ai(['ask', '--json', 'how do I retry a task?']);
    assert.equal(first.code, 0, first.stderr);
    const started = JSON.parse(first.stdout) as { conversation: string; turn: number };
    assert.match(started.conversation, /^[0-9a-f]{16}$/);
    assert.equal(started.turn, 1);
    const second = await ai(['ask', '--conversation', started.conversation, 'and with a delay between attempts?']);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, new RegExp(`conversation ${started.conversation} \\(turn 2\\)`));
    for (const hostile of ['../../etc/passwd', 'ffffffffffffffff']) {
      const refused = await ai(['ask', '--conversation', hostile, 'anything?']);
      assert.equal(refused.code, 2, hostile);
      assert.match(refused.stderr, /16 hex digits|no conversation/);
    }
  });
});
