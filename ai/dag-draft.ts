import { z } from 'zod';
import type { ActionRegistry } from '../dag-repos/actions/registry';
import type { ModelRuntime } from './model-runtime';
import { planFromSentence, type PlannedTask } from './sentence-plan';
import { sentenceValues, type SentenceValues } from './sentence-values';

/** How a drafted input's values are bounded: by what the sentence names, or free text. */
type DraftInput = 'name' | 'image' | 'url' | 'file' | 'hosts' | 'number' | 'duration' | 'text';

/**
 * What a drafted task may fill in `with:`, per action: the inputs a sentence names (a VM's name and
 * image, a URL, a script). Each key is one of the action's own inputs (test/dag-draft.test.ts holds
 * them to the action schemas), so a draft speaks the DAG format, only less of it.
 */
const DRAFT_INPUTS: Record<string, Record<string, DraftInput>> = {
  'kcli.vm.create': { name: 'name', image: 'image', memory: 'number', cpus: 'number' },
  'kcli.vm.delete': { name: 'name' },
  'kcli.vm.start': { name: 'name' },
  'kcli.vm.stop': { name: 'name' },
  'kcli.vm.info': { name: 'name' },
  'http.check': { url: 'url', expectStatus: 'number' },
  shell: { script: 'text' },
  'ansible.playbook': { playbook: 'file', limit: 'hosts' },
  approval: { message: 'text' },
  sleep: { duration: 'duration' },
};

/** Words of a sentence that ask for an action; an action none of them names is not offered to the model. */
const ACTION_WORDS: Record<string, RegExp> = {
  'kcli.vm.create': /\b(create|make|provision|build|spin|launch|new)\b/i,
  'kcli.vm.delete': /\b(delete|remove|destroy|drop|tear)\b/i,
  'kcli.vm.start': /\b(start|boot|power on)\b/i,
  'kcli.vm.stop': /\b(stop|shut|halt|power off)\b/i,
  'kcli.vm.info': /\b(info|describe|inspect|show)\b/i,
  'http.check': /\b(check|answer|answers|respond|responds|health|healthy|reachable|port|https?:\/\/)/i,
  shell: /\b(script|command|shell|prints?|echo|execute)\b/i,
  'ansible.playbook': /\b(playbook|ansible)\b|\.ya?ml\b/i,
  approval: /\b(approv\w*|sign-?off|confirm\w*|permission)\b/i,
  sleep: /\b(wait|sleep|pause)\b/i,
};

/** The URLs a check may use: those written out, and http://NAME:PORT/ for each name and number of the sentence. */
function candidateUrls(values: SentenceValues): string[] {
  const ports = values.numbers.filter((number) => number > 0 && number < 65536);
  const made = values.names.flatMap((name) => (ports.length ? ports.map((port) => `http://${name}:${port}/`) : [`http://${name}/`]));
  return [...values.urls, ...made].slice(0, 200);
}

/** The JSON schema for one bounded input, or undefined when the sentence gives it no value. */
function inputSchema(kind: DraftInput, values: SentenceValues): object | undefined {
  const oneOf = (choices: readonly (string | number)[]): object | undefined => (choices.length ? { enum: [...choices] } : undefined);
  switch (kind) {
    case 'name':
    case 'image':
    case 'hosts':
      return oneOf(values.names);
    case 'url':
      return oneOf(candidateUrls(values));
    case 'file':
      return oneOf(values.files);
    case 'number':
      return oneOf(values.numbers);
    case 'duration':
      return oneOf(values.durations);
    case 'text':
      return { type: 'string', maxLength: 160 };
  }
}

/** The draftable actions with their inputs' schemas for this sentence: an action whose first input has no value is left out. */
export function draftActions(registry: ActionRegistry, values: SentenceValues, sentence: string): Record<string, Record<string, object>> {
  const named = Object.keys(DRAFT_INPUTS).filter((action) => ACTION_WORDS[action]?.test(sentence));
  const offered = named.length ? named : Object.keys(DRAFT_INPUTS);
  const actions: Record<string, Record<string, object>> = {};
  for (const action of offered) {
    if (!registry.get(action)) continue;
    const inputs = Object.entries(DRAFT_INPUTS[action] ?? {}).map(([key, kind]) => [key, inputSchema(kind, values)] as const);
    if (inputs.length && inputs[0]?.[1] === undefined) continue;
    actions[action] = Object.fromEntries(inputs.filter((entry): entry is readonly [string, object] => entry[1] !== undefined));
  }
  return actions;
}

/** The draft's inputs by action, for tests: each key must be an input of the action. */
export const DRAFTED_INPUT_KEYS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(Object.entries(DRAFT_INPUTS).map(([action, inputs]) => [action, Object.keys(inputs)]));

const MAX_TASKS = 12;

/**
 * The JSON schema the model's output is held to, token by token: tasks of the actions the sentence asks
 * for, whose names, URLs, files and numbers are the sentence's own. Ids and order are not the model's
 * to write (a small model loops in free text): they come from the tasks themselves.
 */
export function draftSchema(actions: Record<string, Record<string, object>>): object {
  const taskVariants = Object.entries(actions).map(([action, inputs]) => ({
    type: 'object',
    properties: { uses: { const: action }, with: { type: 'object', properties: inputs, required: Object.keys(inputs).slice(0, 1), additionalProperties: false } },
    required: ['uses', 'with'],
    additionalProperties: false,
  }));
  return { type: 'object', properties: { tasks: { type: 'array', minItems: 1, maxItems: MAX_TASKS, items: { oneOf: taskVariants } } }, required: ['tasks'], additionalProperties: false };
}

/** The model's draft as parsed; the grammar makes it so, the schema checks it anyway (a grammar bug must not pass). */
const Draft = z.object({ tasks: z.array(z.object({ uses: z.string(), with: z.record(z.string(), z.union([z.string(), z.number()])).default({}) })).min(1).max(MAX_TASKS) });

/** A DAG document as the DAG format writes it, ready for YAML. */
export interface DraftedDag {
  id: string;
  description: string;
  labels: { drafted: 'true' };
  tasks: { id: string; uses: string; with?: PlannedTask['with']; needs?: string[] }[];
}

/** A model answer that is not a draft at all (the grammar should make this impossible). */
export class DraftUnusableError extends Error {
  override readonly name = 'DraftUnusableError';
}

/** An id the DAG format accepts: lower-case letters, digits and '-', starting with a letter. */
function slug(text: string, fallback: string): string {
  const cleaned = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, 40)
    .replace(/-+$/, '');
  return cleaned || fallback;
}

const VERBS: Record<string, string> = { 'kcli.vm.create': 'create', 'kcli.vm.delete': 'delete', 'kcli.vm.start': 'start', 'kcli.vm.stop': 'stop', 'kcli.vm.info': 'inspect', 'http.check': 'check', shell: 'run-script', 'ansible.playbook': 'run-playbook', approval: 'approve', sleep: 'wait' };

/** The VM a task acts on: its name, or the host of its URL. */
function subjectOf(task: PlannedTask): string | undefined {
  if (typeof task.with.name === 'string') return task.with.name;
  if (typeof task.with.url === 'string') {
    try {
      return new URL(task.with.url).hostname;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Makes tasks a DAG document. Repeated tasks are dropped (a small model's loop); each task gets an id
 * from its action and subject (`create-web1`, `check-web1`); dependencies follow the order of the tasks:
 * a task on a VM waits for the last task before it on the same VM, a task on no VM (a script, a
 * playbook, an approval) waits for everything before it that nothing else waits for yet, and everything
 * after an approval waits for it. Each change is reported.
 */
export function composeDag(planned: readonly PlannedTask[], sentence: string): { dag: DraftedDag; changes: string[] } {
  const changes: string[] = [];
  const seen = new Set<string>();
  const tasks: (DraftedDag['tasks'][number] & { subject?: string })[] = [];
  let gate: string | undefined;
  for (const task of planned) {
    const key = JSON.stringify([task.uses, task.with]);
    if (seen.has(key)) {
      changes.push(`dropped a repeat of ${task.uses} ${JSON.stringify(task.with)}`);
      continue;
    }
    seen.add(key);
    const subject = subjectOf(task);
    const base = slug(`${VERBS[task.uses] ?? 'task'}${subject ? `-${subject}` : ''}`, 'task');
    let id = base;
    for (let n = 2; tasks.some((earlier) => earlier.id === id); n += 1) id = `${base}-${n}`;
    const onSame = subject === undefined ? undefined : [...tasks].reverse().find((earlier) => earlier.subject === subject);
    const waitedFor = new Set(tasks.flatMap((earlier) => earlier.needs ?? []));
    const needs = new Set<string>();
    if (onSame) {
      needs.add(onSame.id);
      // A pause or a script between two steps on a VM comes between them.
      for (const earlier of tasks.slice(tasks.indexOf(onSame) + 1)) if (earlier.subject === undefined && !waitedFor.has(earlier.id)) needs.add(earlier.id);
    } else if (subject === undefined) for (const earlier of tasks) if (!waitedFor.has(earlier.id)) needs.add(earlier.id);
    if (gate) needs.add(gate);
    tasks.push({ id, uses: task.uses, ...(Object.keys(task.with).length ? { with: { ...task.with } } : {}), ...(needs.size ? { needs: [...needs] } : {}), ...(subject ? { subject } : {}) });
    if (task.uses === 'approval') gate = id;
  }
  const description = sentence.replace(/\s+/g, ' ').trim().slice(0, 300);
  return { dag: { id: slug(description.split(' ').slice(0, 6).join(' '), 'drafted-dag'), description, labels: { drafted: 'true' }, tasks: tasks.map(({ subject: _subject, ...task }) => task) }, changes };
}

/** The model's answer as tasks: only the offered actions and their offered inputs, empty values dropped. */
export function modelTasks(text: string, actions: Record<string, Record<string, object>>): PlannedTask[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new DraftUnusableError('the model wrote no JSON');
  }
  const draft = Draft.safeParse(parsed);
  if (!draft.success) throw new DraftUnusableError(`the model's draft is not a DAG draft: ${draft.error.issues[0]?.message ?? 'invalid'}`);
  return draft.data.tasks.flatMap((task) => {
    const inputs = actions[task.uses];
    if (!inputs) return [];
    const given = Object.entries(task.with).filter(([key, value]) => key in inputs && (typeof value === 'number' || value.trim() !== ''));
    return [{ uses: task.uses, with: Object.fromEntries(given.map(([key, value]) => [key, typeof value === 'string' ? value.trim() : value])) }];
  });
}

/** What the plan acts on that the model's tasks leave out (VMs, URLs, files): a draft missing any is not taken. */
function missingFrom(modelPlan: readonly PlannedTask[], sentencePlan: readonly PlannedTask[]): string[] {
  const covered = new Set(modelPlan.flatMap((task) => [subjectOf(task), task.with.url, task.with.playbook, task.uses]).filter((value): value is string => typeof value === 'string'));
  const wanted = new Set(sentencePlan.flatMap((task) => [subjectOf(task), task.with.playbook, task.uses]).filter((value): value is string => typeof value === 'string'));
  return [...wanted].filter((value) => !covered.has(value));
}

/** Worked examples: a small model copies a shape it was shown far better than it follows a description. */
const EXAMPLES: { sentence: string; tasks: object[] }[] = [
  {
    sentence: 'create two VMs app1..app2 from centos9 and check they answer on port 8080',
    tasks: [
      { uses: 'kcli.vm.create', with: { name: 'app1', image: 'centos9' } },
      { uses: 'kcli.vm.create', with: { name: 'app2', image: 'centos9' } },
      { uses: 'http.check', with: { url: 'http://app1:8080/' } },
      { uses: 'http.check', with: { url: 'http://app2:8080/' } },
    ],
  },
  {
    sentence: 'after an approval, run deploy.yml on the web hosts',
    tasks: [
      { uses: 'approval', with: { message: 'Run deploy.yml on the web hosts?' } },
      { uses: 'ansible.playbook', with: { playbook: 'deploy.yml', limit: 'web' } },
    ],
  },
  {
    sentence: 'stop the VM cache-1, then delete it',
    tasks: [
      { uses: 'kcli.vm.stop', with: { name: 'cache-1' } },
      { uses: 'kcli.vm.delete', with: { name: 'cache-1' } },
    ],
  },
];

const SYSTEM = [
  "You turn an operator's sentence into the tasks of a Qubinode Navigator DAG, as JSON, in the order they run.",
  'Actions: kcli.vm.create (name, image, memory, cpus), kcli.vm.start, kcli.vm.stop, kcli.vm.delete, kcli.vm.info (name), http.check (url, expectStatus), shell (script), ansible.playbook (playbook, limit), approval (message), sleep (duration).',
  'Use the names, images, ports, files and numbers of the sentence exactly. One task per VM. Each task once.',
  ...EXAMPLES.map((example) => `Sentence: ${JSON.stringify(example.sentence)}\nJSON: ${JSON.stringify({ tasks: example.tasks })}`),
].join('\n');

/** A drafted DAG, where its tasks came from, and why the model's own draft was not taken when it was not. */
export interface DagDraft {
  dag: DraftedDag;
  changes: string[];
  source: 'model' | 'sentence';
  /** Set when the sentence's clauses were used instead of the model's draft. */
  fallbackReason?: string;
}

/**
 * A DAG from one sentence. The model drafts its tasks under a grammar that allows only the actions the
 * sentence asks for and only the names, URLs, files and numbers it contains. The draft is taken when it
 * covers every VM, playbook and action the sentence's clauses name; otherwise (or without a model) the
 * tasks read from the clauses are used, and the reason is given. The caller validates with the compiler.
 */
export async function draftDag(runtime: ModelRuntime | undefined, registry: ActionRegistry, sentence: string, options: { signal?: AbortSignal; maxTokens?: number } = {}): Promise<DagDraft> {
  const actions = draftActions(registry, sentenceValues(sentence), sentence);
  const sentencePlan = planFromSentence(sentence, new Set(Object.keys(actions).length ? Object.keys(actions) : registry.names()));
  const fromSentence = (reason: string): DagDraft => {
    if (sentencePlan.length === 0) throw new DraftUnusableError(`${reason}, and the sentence names nothing a draft can act on (a VM, a URL, a playbook, a script)`);
    return { ...composeDag(sentencePlan, sentence), source: 'sentence', fallbackReason: reason };
  };
  if (Object.keys(actions).length === 0) return fromSentence('no action of a draft fits the sentence');
  if (!runtime) return fromSentence('no model');
  let tasks: PlannedTask[];
  try {
    const text = await runtime.generateJson({ system: SYSTEM, prompt: `Sentence: ${JSON.stringify(sentence)}\nJSON:`, schema: draftSchema(actions), maxTokens: options.maxTokens ?? 400, ...(options.signal ? { signal: options.signal } : {}) });
    tasks = modelTasks(text, actions);
  } catch (error) {
    if (options.signal?.aborted) throw error;
    return fromSentence(`the model gave no usable draft (${(error as Error).message})`);
  }
  const missing = missingFrom(tasks, sentencePlan);
  if (missing.length) return fromSentence(`the model's draft leaves out ${missing.join(', ')}`);
  return { ...composeDag(tasks, sentence), source: 'model' };
}
