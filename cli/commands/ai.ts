import type { Command } from 'commander';
import type * as Runs from '../../client/runs';
import type * as LocalTools from '../../workers/local-tools';
import type { AiService } from '../../workers/local-tools';
import type * as WorkersMain from '../../workers/main';
import type * as WorkflowViews from '../../client/workflow-views';
import { runLookup } from '../ai-run-lookup';
import { CliError, type CliContext } from '../context';
import { analysisText } from '../output';

// The model runtime, the index and the worker's diagnostics load only in the action that uses them (see cli/main.ts).
const createAiService: typeof LocalTools.createAiService = (...args) => (require('../../workers/local-tools') as typeof LocalTools).createAiService(...args);
const ask: typeof LocalTools.ask = (...args) => (require('../../workers/local-tools') as typeof LocalTools).ask(...args);
const conversationStore: typeof LocalTools.conversationStore = (...args) => (require('../../workers/local-tools') as typeof LocalTools).conversationStore(...args);
const localFacts: typeof LocalTools.localFacts = (...args) => (require('../../workers/local-tools') as typeof LocalTools).localFacts(...args);
const runs = (): typeof Runs => require('../../client/runs') as typeof Runs;
const workersMain = (): typeof WorkersMain => require('../../workers/main') as typeof WorkersMain;
const workflowViews = (): typeof WorkflowViews => require('../../client/workflow-views') as typeof WorkflowViews;

async function withService<T>(context: CliContext, work: (service: AiService) => Promise<T>): Promise<T> {
  const service = createAiService(context.config);
  try {
    return await work(service);
  } finally {
    await service.dispose();
  }
}

export function registerAiCommands(program: Command, context: CliContext): void {
  const ai = program.command('ai').description('AI failure analysis and questions, on a local GGUF model (CPU)');

  ai.command('ask')
    .description('Answer a question from the docs, the DAG repos and runs (their status and logs), citing sources; questions about this host may use read-only host facts')
    .argument('<question>', 'the question, quoted')
    .option('-c, --conversation <id>', 'go on with an earlier conversation (its id is printed after each answer)')
    .option('--json', 'print as JSON')
    .action(async (question: string, options: { json?: boolean; conversation?: string }) => {
      if (question.length > 2000) throw new CliError('the question must be at most 2000 characters', 2);
      const store = conversationStore(context.config);
      let history;
      try {
        history = options.conversation ? store.turns(options.conversation) : [];
      } catch (error) {
        throw new CliError((error as Error).message, 2);
      }
      const conversation = options.conversation ?? store.start();
      const answer = await withService(context, (service) => ask(service, question, { diag: workersMain().collectDiag, runs: runLookup(context), history }));
      store.append(conversation, { question, answer: answer.answer, toolCalls: answer.toolCalls, at: new Date().toISOString() });
      if (options.json) return console.log(JSON.stringify({ ...answer, conversation, turn: history.length + 1 }, null, 2));
      console.log(answer.answer);
      if (answer.toolCalls.length) console.log(`\n(tools used: ${answer.toolCalls.join(', ')})`);
      if (answer.fallbackReason) console.log(`\n(no model answer: ${answer.fallbackReason}; showing the best excerpts)`);
      console.log(`\nSources:\n${answer.sources.map((source) => `  [${source.n}] ${source.file}:${source.line}  ${source.heading}`).join('\n')}`);
      console.log(`\nconversation ${conversation} (turn ${history.length + 1}); go on with: qubinode ai ask --conversation ${conversation} "…"`);
    });

  ai.command('analyze')
    .description('Analyse the failed tasks of a run now, in this process (the worker does it automatically)')
    .argument('<run>', 'run id')
    .argument('[task]', 'only this task')
    .option('--json', 'print as JSON')
    .action(async (run: string, task: string | undefined, options: { json?: boolean }) => {
      const { client } = await context.temporal();
      const status = await runs().getRunStatus(client, run);
      const failed = status.tasks.filter((candidate) => candidate.state === 'failed' && candidate.error && (!task || candidate.id === task));
      if (failed.length === 0) throw new CliError(task ? `task "${task}" of ${status.runId} did not fail` : `no failed task in ${status.runId}`);
      const diag = localFacts({ dataDir: context.config.dataDir });
      const results = await withService(context, async (service) => {
        const out = [];
        for (const entry of failed) {
          if (!entry.error) continue;
          const facts = { ...workflowViews().factsOf({ runId: status.runId, dagId: status.dagId, taskId: entry.id, action: entry.action, error: entry.error }), diag };
          out.push({ ...entry, analysis: await service.analyse(facts) });
        }
        return out;
      });
      if (options.json) return console.log(JSON.stringify(results.map(({ id, analysis }) => ({ task: id, analysis })), null, 2));
      console.log(results.map((entry) => analysisText(entry)).join('\n\n'));
    });

  ai.command('index')
    .description('Update the knowledge index from docs/, the DAG repos and tool help (only changed files)')
    .option('--rebuild', 'start from an empty index')
    .action(async (options: { rebuild?: boolean }) => {
      const started = Date.now();
      const report = await withService(context, (service) => service.updateIndex({ rebuild: Boolean(options.rebuild) }));
      console.log(`index updated in ${Date.now() - started}ms: ${report.added} added, ${report.changed} changed, ${report.removed} removed, ${report.unchanged} unchanged files; ${report.chunks} chunks${report.embedded ? `, ${report.embedded} embedded` : ''}`);
    });

  ai.command('status')
    .description('Model, index size and backends')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const status = await withService(context, (service) => service.status());
      if (options.json) return console.log(JSON.stringify(status, null, 2));
      console.log(
        [
          `analysis  ${status.analysis} (timeout ${context.config.ai.timeoutMs}ms, ${status.model.threads} CPU thread(s))`,
          `model     ${status.model.file}${status.model.configured === 'auto' ? ' (auto: Granite 4.0 Micro in .data/models, else the test model)' : ''}`,
          `index     ${status.index.files} files, ${status.index.chunks} chunks in ${status.index.storeDir}`,
          `lexical   ${status.index.lexical}`,
          `vectors   ${status.index.vectors}${status.index.vectors !== 'none' ? ` (${status.index.vectorCount} vectors)` : ' (set QUBINODE_AI_VECTORS=true)'}`,
        ].join('\n'),
      );
    });
}
