import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SearchHit } from './knowledge-index';
import { InvalidModelOutputError, buildPrompt, parseModelOutput } from './llm-analyser';

const hits: SearchHit[] = [
  { chunk: { id: 'docs/a.md:10', file: 'docs/a.md', startLine: 10, endLine: 20, heading: 'A › Libvirt', text: 'start libvirtd' }, score: 1, via: 'lexical' },
  { chunk: { id: 'docs/b.md:5', file: 'docs/b.md', startLine: 5, endLine: 9, heading: 'B › Disks', text: 'free space' }, score: 0.5, via: 'lexical' },
];

describe('checking what the model wrote', () => {
  it('maps cited excerpt numbers to file:line references and clamps a 0-100 confidence to 0..1', () => {
    const raw = JSON.stringify({ summary: 'libvirt is not running on the host', likelyCause: 'the libvirtd service is stopped', fixes: [{ command: 'systemctl start libvirtd', why: 'starts it' }], confidence: 70, references: [2, 9] });
    const parsed = parseModelOutput(raw, hits);
    assert.deepEqual(parsed.references, [{ chunkId: 'docs/b.md:5', file: 'docs/b.md', line: 5 }]);
    assert.equal(parsed.confidence, 0.7);
    assert.equal(parsed.fixes[0]?.command, 'systemctl start libvirtd');
  });

  it('rejects text that is not JSON, JSON that misses fields, and answers too thin to help', () => {
    assert.throws(() => parseModelOutput('{"summary": "x"', hits), InvalidModelOutputError);
    assert.throws(() => parseModelOutput(JSON.stringify({ summary: 'libvirt is not running on the host' }), hits), /does not fit the schema/);
    assert.throws(() => parseModelOutput(JSON.stringify({ summary: 'error', likelyCause: 'error', fixes: [], confidence: 0, references: [] }), hits), /too thin/);
  });

  it('puts the task output, the pattern hint and numbered excerpts in the prompt', () => {
    const prompt = buildPrompt({ runId: 'r', dagId: 'd', taskId: 't', action: 'shell', errorType: 'CommandFailed', message: 'exit code 1', stderrTail: "Failed to connect socket to '/var/run/libvirt/libvirt-sock'" }, hits);
    assert.match(prompt, /libvirt-sock/);
    assert.match(prompt, /pattern library matched "libvirt-not-running"/);
    assert.match(prompt, /\[2\] docs\/b\.md:5 B › Disks/);
  });
});
