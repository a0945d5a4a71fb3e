// test-tier: full (not in npm run test:quick: loads the 270M test model)
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { PROJECT_ROOT } from '../config/config';
import { draftDagFile } from './draft-dag-file';
import { ModelRuntime } from './model-runtime';
import { testModelChunks } from './model-path';
import { sentenceValues } from './sentence-values';
import { DAG_SENTENCES } from '../test/fixtures/dag-sentences';

const installed = testModelChunks() !== undefined;

/** The model's drafts must validate whatever it writes: the grammar and the clause fallback make it so. */
const SENTENCES = DAG_SENTENCES.slice(0, 5);

describe('qubinode dag new with the model (Gemma 3 270M)', { skip: installed ? false : 'the test model package is not installed in .tools/venv (run infra/setup.sh)' }, () => {
  let runtime: ModelRuntime;
  const registry = new ActionRegistry();
  before(() => {
    runtime = new ModelRuntime({ modelsDir: path.join(PROJECT_ROOT, '.data', 'models'), threads: 0, contextSize: 4096 });
  });
  after(async () => {
    await runtime.dispose();
  });

  for (const sentence of SENTENCES) {
    it(`drafts a DAG the compiler accepts for "${sentence}", from the model or with the reason it was not taken`, async () => {
      const drafted = await draftDagFile(runtime, registry, sentence, (id) => `${id}.yaml`);
      assert.equal(drafted.valid, true, drafted.diagnostics.join('; '));
      if (drafted.source === 'sentence') assert.match(drafted.fallbackReason ?? '', /the model/);
      else {
        // What the model wrote can only be the sentence's own values: the grammar offered nothing else.
        const values = sentenceValues(sentence);
        const allowed = new Set<string | number>([...values.names, ...values.urls, ...values.files, ...values.numbers, ...values.durations]);
        const document = parse(drafted.text) as { tasks: { uses: string; with?: Record<string, unknown> }[] };
        for (const task of document.tasks) {
          for (const [key, value] of Object.entries(task.with ?? {})) {
            if (key === 'url' || key === 'script' || key === 'message') continue;
            assert.ok(allowed.has(value as string | number), `${task.uses}.${key}=${JSON.stringify(value)} is not in the sentence`);
          }
        }
      }
    });
  }
});
