import { stringify } from 'yaml';
import type { ActionRegistry } from '../dag-repos/actions/registry';
import { checkDagFile } from '../dag-repos/compiler/compile';
import { formatDiagnostic } from '../dag-repos/compiler/diagnostics';
import { draftDag, type DagDraft } from './dag-draft';
import type { ModelRuntime } from './model-runtime';

/** What `qubinode dag new` shows and may write: the file's text and whether the compiler accepts it. */
export interface DraftedDagFile {
  id: string;
  text: string;
  valid: boolean;
  /** The compiler's findings, each `file:line:column path: message`. */
  diagnostics: string[];
  source: DagDraft['source'];
  fallbackReason?: string;
  /** What was changed in the model's or the sentence's tasks (repeats dropped). */
  changes: string[];
}

/** A sentence is one line of text: no control characters (they would end the file's comment line). */
export const SENTENCE_MAX = 500;

export class SentenceRefusedError extends Error {
  override readonly name = 'SentenceRefusedError';
}

/**
 * Drafts a DAG from a sentence (ai/dag-draft.ts), writes it as YAML (values as data, the sentence only
 * in a comment), and checks the text with the DAG compiler exactly as `qubinode dag validate` would.
 */
export async function draftDagFile(runtime: ModelRuntime | undefined, registry: ActionRegistry, sentence: string, fileName: (id: string) => string): Promise<DraftedDagFile> {
  if (sentence.trim().length < 3 || sentence.length > SENTENCE_MAX) throw new SentenceRefusedError(`the sentence must be 3 to ${SENTENCE_MAX} characters`);
  if (/\p{Cc}/u.test(sentence)) throw new SentenceRefusedError('the sentence must be one line without control characters');
  const draft = await draftDag(runtime, registry, sentence.trim());
  const header = [
    `# Drafted by \`qubinode dag new\` (${draft.source === 'model' ? 'the model' : "the sentence's clauses"}) from:`,
    `#   ${sentence.trim()}`,
    '# Review every value before you run it.',
  ].join('\n');
  const text = `${header}\n${stringify(draft.dag, { lineWidth: 0 })}`;
  const path = fileName(draft.dag.id);
  const checked = checkDagFile({ repo: 'local', path, commit: '', text }, { registry });
  return {
    id: draft.dag.id,
    text,
    valid: checked.diagnostics.length === 0,
    diagnostics: checked.diagnostics.map(formatDiagnostic),
    source: draft.source,
    ...(draft.fallbackReason ? { fallbackReason: draft.fallbackReason } : {}),
    changes: draft.changes,
  };
}
