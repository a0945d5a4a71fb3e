/** The values a sentence names, by kind: a draft's bounded inputs take only these. */
export interface SentenceValues {
  names: string[];
  urls: string[];
  files: string[];
  numbers: number[];
  durations: string[];
}

const STOP_WORDS = new Set('a an and the then them they their it its is are be on of to from with for in at by as that this these those after before once when named called vm vms machine machines host hosts server servers port ports check create delete remove stop start run runs make new each every all one two three four five six seven eight nine ten answer answers memory mb mib gb cpu cpus core cores using use via script playbook approval approve image images wait sleep pause prints print echo shell command ansible boot destroy provision build launch info describe inspect health healthy reachable respond responds minute minutes second seconds hour hours'.split(' '));

/** The names, URLs, files, numbers and durations of a sentence; `web1..web3` counts as web1, web2, web3. */
export function sentenceValues(sentence: string): SentenceValues {
  const urls = [...new Set(sentence.match(/https?:\/\/[^\s"'<>]+/g) ?? [])].map((url) => url.replace(/[.,;:!?)]+$/, ''));
  const rest = sentence.replace(/https?:\/\/[^\s"'<>]+/g, ' ');
  const files = [...new Set(rest.match(/[A-Za-z0-9_./-]+\.ya?ml\b/g) ?? [])];
  const names: string[] = [];
  for (const range of rest.matchAll(/\b([a-z][a-z0-9-]*?)(\d{1,3})\s*\.\.\s*(?:\1)?(\d{1,3})\b/gi)) {
    const [prefix, from, to] = [range[1] as string, Number(range[2]), Number(range[3])];
    if (to >= from && to - from < 20) for (let n = from; n <= to; n += 1) names.push(`${prefix}${n}`);
  }
  const withoutRanges = rest.replace(/\b[a-z][a-z0-9-]*?\d{1,3}\s*\.\.\s*[a-z0-9-]*\d{1,3}\b/gi, ' ');
  for (const word of withoutRanges.match(/\b[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*\b/g) ?? []) {
    if (files.includes(word) || /\.ya?ml$/i.test(word) || STOP_WORDS.has(word.toLowerCase()) || word.length < 2) continue;
    if (!names.includes(word)) names.push(word);
  }
  const durations = [...new Set(rest.match(/\b\d+(?:s|m|h)\b/g) ?? [])];
  const numbers = [...new Set((withoutRanges.replace(/\b\d+(?:s|m|h)\b/g, ' ').match(/\b\d{1,6}\b/g) ?? []).map(Number))];
  return { names: names.slice(0, 40), urls: urls.slice(0, 10), files: files.slice(0, 10), numbers: numbers.slice(0, 10), durations: durations.slice(0, 5) };
}

