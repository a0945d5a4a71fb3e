import { sentenceValues } from './sentence-values';

/** One task of a plan: an action and its inputs, as the DAG format writes them. */
export interface PlannedTask {
  uses: string;
  with: Record<string, string | number | string[]>;
}

/** Which action a clause asks for: the first whose words it uses, in this order (a clause that creates and checks is split first). */
const CLAUSE_ACTIONS: readonly [string, RegExp][] = [
  ['kcli.vm.create', /\b(create|make|provision|build|spin up|launch)\b/i],
  ['kcli.vm.delete', /\b(delete|remove|destroy|tear down)\b/i],
  ['kcli.vm.stop', /\b(stop|shut down|halt|power off)\b/i],
  ['kcli.vm.start', /\b(start|boot|power on)\b/i],
  ['ansible.playbook', /\b(playbook|ansible)\b|\.ya?ml\b/i],
  ['shell', /\b(script|command|prints?|echo)\b/i],
  ['http.check', /\b(check|answers?|responds?|health|healthy|reachable)\b|https?:\/\//i],
  ['approval', /\b(approv\w*|sign-?off|confirm\w*)\b/i],
  ['kcli.vm.info', /\b(info|describe|inspect)\b/i],
  ['sleep', /\b(wait|sleep|pause)\b/i],
];

const VERB = '(?:create|make|provision|build|spin|launch|delete|remove|destroy|stop|shut|start|boot|check|verify|run|execute|wait|sleep|pause|ask|get|approve|inspect|describe)';
/** Where a sentence turns to its next step: "then", ";", or ", / and" before a verb. */
const CLAUSE_BREAK = new RegExp(`\\s*(?:,\\s*and then|,?\\s*and then|,\\s*then|\\bthen\\b|;|,\\s*(?=${VERB}\\b)|\\s+and\\s+(?=${VERB}\\b))\\s*`, 'i');
/** "…, after an approval" / "once approved": the approval comes first whatever its place in the sentence. */
const APPROVAL_FIRST = /\b(?:after|once)\b[^,;]*\bapprov\w*|\bapproved first\b/i;
const REFERS_BACK = /\b(they|them|it|each|all|those|these)\b/i;

function clausesOf(sentence: string): string[] {
  return sentence
    .split(CLAUSE_BREAK)
    .map((clause) => clause.trim())
    .filter(Boolean);
}

/** The VM names a clause gives: a range (web1..web3), "named X", or its other words that are not the image, hosts or a file. */
function vmNames(clause: string, image: string | undefined, hosts: string | undefined): string[] {
  const values = sentenceValues(clause);
  const named = /\b(?:named|called)\s+([A-Za-z0-9][A-Za-z0-9._-]*)/i.exec(clause)?.[1];
  const ranged = /\d\s*\.\.\s*\S*\d/.test(clause);
  if (named && !ranged) return [named];
  return values.names.filter((name) => name !== image && name !== hosts && !/^(vm|vms|the|from)$/i.test(name));
}

function numberBefore(clause: string, unit: RegExp): number | undefined {
  const match = new RegExp(`\\b(\\d{1,7})\\s*(${unit.source})`, 'i').exec(clause);
  if (!match) return undefined;
  const value = Number(match[1]);
  return /^g/i.test(match[2] ?? '') ? value * 1024 : value;
}

/**
 * A plan read from the sentence's clauses, without the model: each clause's action from its words, its
 * VMs, image, ports, URLs, files and numbers from its text ("they" in a later clause means the VMs of the
 * one before). Values go into inputs as data: a script to print text is `command: [echo, text]`, never
 * text spliced into a script.
 */
export function planFromSentence(sentence: string, offered: ReadonlySet<string>): PlannedTask[] {
  const clauses = clausesOf(sentence);
  const approvalFirst = APPROVAL_FIRST.test(sentence) && offered.has('approval');
  const tasks: PlannedTask[] = approvalFirst ? [{ uses: 'approval', with: { message: sentence.trim().slice(0, 300) } }] : [];
  let lastNames: string[] = [];
  for (const clause of clauses) {
    const action = CLAUSE_ACTIONS.find(([name, words]) => offered.has(name) && words.test(clause))?.[0];
    if (!action || (action === 'approval' && approvalFirst)) continue;
    const values = sentenceValues(clause);
    const image = /\b(?:from|image)\s+([A-Za-z0-9][A-Za-z0-9._-]*)/i.exec(clause)?.[1];
    const hosts = /\bon (?:the )?([A-Za-z0-9][A-Za-z0-9._-]*) (?:hosts?|group|servers?)\b/i.exec(clause)?.[1];
    let names = vmNames(clause, image, hosts);
    if ((names.length === 0 || REFERS_BACK.test(clause)) && lastNames.length && action !== 'kcli.vm.create') names = lastNames;
    switch (action) {
      case 'kcli.vm.create': {
        const memory = numberBefore(clause, /mi?b|gi?b|g\b/);
        const cpus = numberBefore(clause, /cpus?|cores?|vcpus?/);
        for (const name of names) tasks.push({ uses: action, with: { name, ...(image ? { image } : {}), ...(memory ? { memory } : {}), ...(cpus ? { cpus } : {}) } });
        break;
      }
      case 'kcli.vm.delete':
      case 'kcli.vm.stop':
      case 'kcli.vm.start':
      case 'kcli.vm.info':
        for (const name of names) tasks.push({ uses: action, with: { name } });
        break;
      case 'http.check': {
        const port = /\bport\s+(\d{1,5})\b/i.exec(clause)?.[1];
        const status = /\b(?:answers?|status|returns?|with)\s+(\d{3})\b/i.exec(clause)?.[1];
        const urls = values.urls.length ? values.urls : names.map((name) => `http://${name}${port ? `:${port}` : ''}/`);
        for (const url of urls) tasks.push({ uses: action, with: { url, ...(status ? { expectStatus: Number(status) } : {}) } });
        break;
      }
      case 'ansible.playbook':
        for (const playbook of values.files) tasks.push({ uses: action, with: { playbook, ...(hosts ? { limit: hosts } : {}) } });
        break;
      case 'shell': {
        const said = /\b(?:prints?|echo(?:es)?|says?)\s+(.+)$/i.exec(clause)?.[1]?.trim();
        // One pair of quotes around the whole text is the sentence's, not the text's.
        const printed = said && /^(["']).*\1$/.test(said) && said.length > 1 ? said.slice(1, -1) : said;
        tasks.push({ uses: action, with: printed ? { command: ['echo', printed] } : { command: ['true'] } });
        break;
      }
      case 'approval':
        tasks.push({ uses: action, with: { message: clause.slice(0, 300) } });
        break;
      case 'sleep': {
        const duration = values.durations[0];
        if (duration) tasks.push({ uses: action, with: { duration } });
        break;
      }
    }
    if (action.startsWith('kcli.vm.') && names.length) lastNames = names;
  }
  return tasks;
}
