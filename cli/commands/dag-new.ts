import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import type * as LocalTools from '../../workers/local-tools';
import { CliError, type CliContext } from '../context';

// The drafting and the model load only when `dag new` runs (see cli/main.ts).
const localTools = (): typeof LocalTools => require('../../workers/local-tools') as typeof LocalTools;

/** Plugin templates whose id or description shares a word of four letters or more with the sentence. */
function templatesFor(context: CliContext, sentence: string): { id: string; description: string }[] {
  const words = new Set(sentence.toLowerCase().match(/[a-z0-9]{4,}/g) ?? []);
  return localTools()
    .pluginDagTemplates(context.config)
    .filter((template) => (`${template.id} ${template.description}`.toLowerCase().match(/[a-z0-9]{4,}/g) ?? []).some((word) => words.has(word)));
}

/** `qubinode dag new "<sentence>"`: drafts, validates, and writes only a valid draft (or any with --force). */
export function registerDagNewCommand(dag: Command, context: CliContext): void {
  dag
    .command('new')
    .description('Draft a DAG from a sentence (the local model, else the sentence\'s clauses), validate it, and write it when valid')
    .argument('<sentence>', 'what the DAG should do, quoted, e.g. "create three VMs web1..web3 from rocky9 and check they answer on port 80"')
    .option('-o, --out <file>', 'where to write it (default: <DAG id>.yaml here); never overwrites a file')
    .option('--force', 'write the draft even when it does not validate')
    .option('--no-model', "draft from the sentence's clauses only, without loading the model")
    .option('--json', 'print the result as JSON')
    .action(async (sentence: string, options: { out?: string; force?: boolean; model: boolean; json?: boolean }) => {
      if (options.out !== undefined && !/\.ya?ml$/i.test(options.out)) throw new CliError(`--out ${JSON.stringify(options.out)}: a DAG file ends in .yaml or .yml`, 2);
      const target = (id: string): string => path.resolve(options.out ?? `${id}.yaml`);
      const { draftDagFromSentence, SentenceRefusedError } = localTools();
      const Refused = SentenceRefusedError();
      let draft;
      try {
        draft = await draftDagFromSentence(context.config, context.registry, sentence, { useModel: options.model, fileName: (id) => path.relative(process.cwd(), target(id)) || target(id) });
      } catch (error) {
        if (error instanceof Refused) throw new CliError(error.message, 2);
        throw error;
      }
      const file = target(draft.id);
      const write = draft.valid || options.force === true;
      if (write && existsSync(file)) throw new CliError(`${file} already exists; give another --out`, 2);
      if (write) writeFileSync(file, draft.text, { flag: 'wx' });
      const templates = templatesFor(context, sentence);
      if (options.json) {
        console.log(JSON.stringify({ ...draft, file: write ? file : null, templates }, null, 2));
      } else {
        process.stdout.write(draft.text);
        console.log('');
        console.log(draft.source === 'model' ? 'Drafted by the model.' : `Drafted from the sentence's clauses (${draft.fallbackReason ?? 'no model'}).`);
        for (const change of draft.changes) console.log(`  changed: ${change}`);
        if (draft.valid) console.log(`✔ valid DAG "${draft.id}"`);
        else for (const diagnostic of draft.diagnostics) console.log(`✖ ${diagnostic}`);
        if (write) console.log(`${draft.valid ? 'wrote' : 'wrote the draft (it does not validate)'} ${file}`);
        else console.log('not written: the draft does not validate (--force writes it anyway)');
        for (const template of templates) console.log(`starting point from a plugin: ${template.id} — ${template.description} (qubinode dag templates ${template.id})`);
      }
      if (!draft.valid && !options.force) process.exitCode = 1;
    });
}
