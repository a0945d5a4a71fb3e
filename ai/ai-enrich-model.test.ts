// test-tier: full (not in npm run test:quick: loads the 270M test model)
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, PROJECT_ROOT } from '../config/config';
import { LABELLED_FAILURES } from '../test/fixtures/ai/failure-logs';
import { AiService } from './ai-service';
import { FailureAnalysis } from '../dag-repos/actions/failure-analysis';
import { testModelChunks } from './model-path';
import { analyseWithRules } from './rules-analyser';

const installed = testModelChunks() !== undefined;
const SAMPLE = ['dnf-no-match', 'ansible-unreachable', 'virsh-libvirt-down'];

function serviceWith(storeDir: string, overrides: { timeoutMs?: number; model?: string } = {}): AiService {
  const config = loadConfig();
  return new AiService({
    config: { ...config.ai, analysis: 'model', vectors: false, storeDir, modelsDir: path.join(PROJECT_ROOT, '.data', 'models'), timeoutMs: overrides.timeoutMs ?? 60_000, ...(overrides.model ? { model: overrides.model } : {}) },
    roots: { projectRoot: PROJECT_ROOT, docDirs: [], dagDirs: [], helpDir: path.join(storeDir, 'help'), toolBin: path.join(PROJECT_ROOT, '.tools', 'venv', 'bin') },
  });
}

describe('the model enriching the rules\' answer (Gemma 3 270M)', { skip: installed ? false : 'the test model package is not installed in .tools/venv (run infra/setup.sh)' }, () => {
  let storeDir: string;
  let service: AiService;
  before(() => {
    storeDir = mkdtempSync(path.join(tmpdir(), 'qubinode-enrich-'));
    service = serviceWith(storeDir);
  });
  after(async () => {
    await service.dispose();
    rmSync(storeDir, { recursive: true, force: true });
  });

  for (const name of SAMPLE) {
    it(`keeps the rules' category, fixes and references for ${name}, whatever the model writes`, async () => {
      const failure = LABELLED_FAILURES.find((entry) => entry.name === name);
      assert.ok(failure);
      const rules = analyseWithRules(failure.facts);
      const final = await service.enrich(failure.facts, rules);
      assert.ok(FailureAnalysis.safeParse(final).success, JSON.stringify(final));
      assert.equal(final.category, failure.category);
      assert.deepEqual(final.fixes, rules.fixes);
      assert.deepEqual(final.references, rules.references);
      // The contract, not a sample: either the model's words with the rules' facts, or the rules' answer and why.
      if (final.source === 'rules+model') {
        assert.match(final.model ?? '', /\.gguf$/);
        assert.equal(final.fallbackReason, undefined);
      } else {
        assert.equal(final.source, 'rules');
        assert.equal(final.summary, rules.summary);
        assert.match(final.fallbackReason ?? '', /^model text not kept \((truncated|too-thin|not-prose|echo|off-topic|invented|repetitive)\): /);
      }
    });
  }

  it('keeps the rules\' answer, saying the model ran out of time, when the deadline comes first', async () => {
    const failure = LABELLED_FAILURES[0];
    assert.ok(failure);
    const rules = analyseWithRules(failure.facts);
    const final = await service.enrich(failure.facts, rules, { timeoutMs: 1 });
    assert.deepEqual({ ...final, fallbackReason: undefined }, { ...rules, fallbackReason: undefined });
    assert.match(final.fallbackReason ?? '', /^model text not kept \(timeout\): model did not answer within 1ms/);
  });
});

describe('enriching without a model', () => {
  it('keeps the rules\' answer and names the missing file', async () => {
    const storeDir = mkdtempSync(path.join(tmpdir(), 'qubinode-enrich-none-'));
    const service = serviceWith(storeDir, { model: '/nonexistent/model.gguf' });
    try {
      const failure = LABELLED_FAILURES[0];
      assert.ok(failure);
      const rules = analyseWithRules(failure.facts);
      const final = await service.enrich(failure.facts, rules);
      assert.equal(final.source, 'rules');
      assert.equal(final.category, rules.category);
      assert.match(final.fallbackReason ?? '', /^model text not kept \(unavailable\): .*QUBINODE_AI_MODEL: no file/);
    } finally {
      await service.dispose();
      rmSync(storeDir, { recursive: true, force: true });
    }
  });
});
