import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type * as DagGraph from '../../client/dag-graph';
import type * as LocalDags from '../../client/local-dags';
import type { ValidationOutcome } from '../../client/local-dags';
import type * as PrepareRun from '../../client/prepare-run';
import type { CompiledDag } from '../../client/prepare-run';
import type * as LocalTools from '../../workers/local-tools';
import { CliError, type CliContext } from '../context';
import { table } from '../output';
import { registerDagNewCommand } from './dag-new';

// Loaded by the action that uses them (see cli/main.ts).
const localDags = (): typeof LocalDags => require('../../client/local-dags') as typeof LocalDags;
const validateDagPath: typeof LocalDags.validateDagPath = (...args) => (require('../../client/local-dags') as typeof LocalDags).validateDagPath(...args);
const renderGraphMermaid: typeof DagGraph.renderGraphMermaid = (...args) => (require('../../client/dag-graph') as typeof DagGraph).renderGraphMermaid(...args);
const renderGraphText: typeof DagGraph.renderGraphText = (...args) => (require('../../client/dag-graph') as typeof DagGraph).renderGraphText(...args);
const pluginDagTemplates: typeof LocalTools.pluginDagTemplates = (...args) => (require('../../workers/local-tools') as typeof LocalTools).pluginDagTemplates(...args);
const prepareRun = (): typeof PrepareRun => require('../../client/prepare-run') as typeof PrepareRun;

function validatePath(context: CliContext, target: string): ValidationOutcome[] {
  if (!existsSync(target)) throw new CliError(`${target}: no such file or directory`, 2);
  return validateDagPath(target, context.registry, () => context.localCatalog());
}

/** File paths compile here against this machine's DAG directories; catalog ids come from the full catalog (Temporal or the API). */
async function findDag(context: CliContext, ref: string): Promise<CompiledDag> {
  return localDags().looksLikePath(ref) ? prepareRun().findDag(context.localCatalog(), context.registry, ref) : context.backend().dag(ref);
}

function paramRows(dag: CompiledDag): string[][] {
  return Object.entries(dag.params).map(([name, spec]) => [
    name,
    spec.type,
    spec.required ? 'yes' : '',
    spec.default === undefined ? '' : spec.secret ? '***' : JSON.stringify(spec.default),
    [spec.enum ? `one of ${spec.enum.join('|')}` : '', spec.description ?? ''].filter(Boolean).join(' — '),
  ]);
}

export function registerDagCommands(program: Command, context: CliContext): void {
  const dag = program.command('dag').description('Validate, list and inspect DAGs');

  dag
    .command('validate')
    .description('Check DAG files or directories; exit 0 when all are valid, 1 when any is invalid')
    .argument('<paths...>', 'DAG files, or directories of DAG files (their dags/ folder)')
    .option('--json', 'print the results as JSON')
    .action((paths: string[], options: { json?: boolean }) => {
      const outcomes = paths.flatMap((target) => validatePath(context, target));
      if (options.json) console.log(JSON.stringify(outcomes, null, 2));
      else {
        for (const outcome of outcomes) {
          if (outcome.valid) console.log(`✔ ${outcome.path}${outcome.id ? ` (${outcome.id})` : ''}`);
          else {
            console.log(`✖ ${outcome.path}`);
            for (const diagnostic of outcome.diagnostics) console.log(`  ${localDags().formatDiagnostic(diagnostic)}`);
          }
        }
        if (outcomes.length === 0) console.log('no DAG files found');
      }
      if (outcomes.some((outcome) => !outcome.valid)) process.exitCode = 1;
    });

  dag
    .command('list')
    .description('List the DAG catalog')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      const entries = await context.backend().dags();
      if (options.json) {
        console.log(JSON.stringify(entries, null, 2));
        return;
      }
      console.log(table(['DAG', 'TASKS', 'VALID', 'DESCRIPTION'], entries.map((entry) => [entry.id, entry.valid ? String(entry.tasks.length) : '-', entry.valid ? 'yes' : `NO (${entry.diagnostics.length} problems)`, entry.description.slice(0, 80)])));
    });

  dag
    .command('show')
    .description('Show one DAG: source, params and tasks')
    .argument('<dag>', 'catalog id (e.g. examples/hello) or a DAG file path')
    .option('--json', 'print the compiled DAG as JSON')
    .action(async (ref: string, options: { json?: boolean }) => {
      const compiled = await findDag(context, ref);
      if (options.json) {
        console.log(JSON.stringify(compiled, null, 2));
        return;
      }
      console.log(`${compiled.catalogId}\n${compiled.description}\n`);
      console.log(`file ${compiled.origin.path} (repo ${compiled.origin.repo}, commit ${compiled.origin.commit})  concurrency ${compiled.concurrency}\n`);
      if (Object.keys(compiled.params).length) console.log(`${table(['PARAM', 'TYPE', 'REQUIRED', 'DEFAULT', 'NOTES'], paramRows(compiled))}\n`);
      console.log(
        table(
          ['TASK', 'ACTION', 'NEEDS', 'TRIGGER', 'OPTIONS'],
          compiled.tasks.map((task) => [
            task.id,
            task.action,
            task.needs.join(',') || '-',
            task.trigger,
            [task.forEach !== undefined ? 'forEach' : '', task.when !== undefined ? `when ${String(task.when)}` : '', task.retry.maximumAttempts > 1 ? `retry ${task.retry.maximumAttempts}` : '', task.timeoutMs ? `timeout ${task.timeoutMs / 1000}s` : '', task.runsOn ? `runsOn ${task.runsOn}` : '', task.compensate ? `compensate ${task.compensate.action}` : '']
              .filter(Boolean)
              .join('; '),
          ]),
        ),
      );
    });

  registerDagNewCommand(dag, context);

  dag
    .command('templates')
    .description('DAG templates offered by plugins; with an id, print that template')
    .argument('[id]', 'template id')
    .action((id: string | undefined) => {
      const templates = pluginDagTemplates(context.config);
      if (id === undefined) {
        console.log(templates.length ? table(['TEMPLATE', 'PLUGIN', 'DESCRIPTION'], templates.map((template) => [template.id, template.plugin, template.description])) : 'no plugin offers DAG templates');
        return;
      }
      const template = templates.find((candidate) => candidate.id === id);
      if (!template) throw new CliError(`no DAG template "${id}"; known: ${templates.map((candidate) => candidate.id).join(', ') || 'none'}`);
      process.stdout.write(readFileSync(template.path, 'utf8'));
    });

  dag
    .command('graph')
    .description('Print the DAG as text and as a Mermaid flowchart')
    .argument('<dag>', 'catalog id or a DAG file path')
    .option('--mermaid', 'only the Mermaid source')
    .option('--text', 'only the text form')
    .action(async (ref: string, options: { mermaid?: boolean; text?: boolean }) => {
      const compiled = await findDag(context, ref);
      const both = !options.mermaid && !options.text;
      if (options.text || both) console.log(renderGraphText(compiled));
      if (both) console.log('');
      if (options.mermaid || both) console.log(both ? `\`\`\`mermaid\n${renderGraphMermaid(compiled)}\n\`\`\`` : renderGraphMermaid(compiled));
    });
}
