// test-tier: full (not in npm run test:quick: loads the 270M test model)
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ask, type RunLookup } from '../ai/ask';
import { AiService } from '../ai/ai-service';
import { ConversationStore } from '../ai/conversations';
import { testModelChunks } from '../ai/model-path';
import { readRunLogs } from '../client/logs';
import { getRunStatus } from '../client/runs';
import { PROJECT_ROOT } from '../config/config';
import { startTestEngine, type TestEngine } from './support/engine';

// `qubinode ai ask` about a real failed run, with the real model: the run's status and its failed
// task's log are read through the tools, shown as tool calls, and the answer carries what they said.
// A follow-up in the same conversation, which names no run, is answered about the same run.

const installed = testModelChunks() !== undefined;
const CANARY = 'volume pool qn-ask-pool is full: 0 bytes free';

const FAILING_DAG = `
id: ask-fail
tasks:
  - id: prepare
    uses: noop
  - id: copy-image
    needs: [prepare]
    uses: shell
    with:
      script: |
        echo "copying rocky9.qcow2 into the pool"
        echo "${CANARY}" >&2
        exit 28
`;

describe('ai ask about a run, with the run tools and the model (Gemma 3 270M)', { skip: installed ? false : 'the test model package is not installed in .tools/venv (run infra/setup.sh)' }, () => {
  let engine: TestEngine;
  let service: AiService;
  let storeDir: string;
  let runId = '';
  const lookup = (): RunLookup => ({
    status: async (id) => {
      const status = await getRunStatus(engine.client, id);
      return { runId: status.runId, state: status.state, tasks: status.tasks.map((task) => ({ id: task.id, state: task.state, ...(task.error ? { error: task.error.message } : {}) })) };
    },
    logTail: async (id, taskId) => (await readRunLogs(engine.client, { runId: id, taskId, maxBytes: 64 * 1024 })).files.map((file) => file.text).join('\n').split('\n').slice(-30).join('\n'),
  });

  before(async () => {
    storeDir = mkdtempSync(path.join(tmpdir(), 'qubinode-ask-runs-'));
    engine = await startTestEngine({ env: { QUBINODE_AI_ANALYSIS: 'rules' } });
    const status = await engine.run(engine.compile(FAILING_DAG));
    assert.equal(status.state, 'failed');
    runId = status.runId;
    service = new AiService({
      config: { ...engine.config.ai, analysis: 'model', vectors: false, storeDir, modelsDir: path.join(PROJECT_ROOT, '.data', 'models'), timeoutMs: 120_000 },
      roots: { projectRoot: PROJECT_ROOT, docDirs: [path.join(PROJECT_ROOT, 'docs')], dagDirs: [], helpDir: path.join(storeDir, 'help'), toolBin: path.join(PROJECT_ROOT, '.tools', 'venv', 'bin') },
    });
  });
  after(async () => {
    await service?.dispose();
    await engine?.close();
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('answers why a run failed from its status and the failed task\'s log, and shows both tool calls', async () => {
    const answer = await ask(service, `Why did the run ${runId} fail?`, { diag: async () => ({}), runs: lookup() });
    assert.ok(answer.toolCalls.includes(`run_status(${runId})`), answer.toolCalls.join(', '));
    assert.ok(answer.toolCalls.includes(`run_logs(${runId}, copy-image)`), answer.toolCalls.join(', '));
    assert.ok(answer.answer.includes(CANARY), 'the answer carries the log line that explains the failure');
    assert.match(answer.answer, /copy-image/);
  });

  it('keeps the conversation: a follow-up that names no run is answered about the same run', async () => {
    const store = new ConversationStore(path.join(storeDir, 'conversations'));
    const id = store.start();
    const first = await ask(service, `What happened in ${runId}?`, { diag: async () => ({}), runs: lookup() });
    store.append(id, { question: `What happened in ${runId}?`, answer: first.answer, toolCalls: first.toolCalls, at: new Date().toISOString() });
    const followUp = await ask(service, 'Which task failed, and with what exit code?', { diag: async () => ({}), runs: lookup(), history: store.turns(id) });
    assert.ok(followUp.toolCalls.includes(`run_status(${runId})`), `the run came from the conversation: ${followUp.toolCalls.join(', ')}`);
    assert.match(followUp.answer, /copy-image/);
    assert.equal(store.turns(id).length, 1);
  });
});
