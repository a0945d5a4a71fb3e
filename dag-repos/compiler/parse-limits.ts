import { Composer, isAlias, isMap, isPair, isScalar, isSeq, Lexer, LineCounter, Parser, YAMLParseError, type CST, type Document, type Node } from 'yaml';
import type { DagDiagnostic } from './diagnostics';
import type { YamlSource } from './source-map';

/**
 * DAG files come from pushed repositories, so they are hostile until parsed. These limits keep a bad
 * file a diagnostic: below them parsing is fast and every later walk (schema, expressions, scanner)
 * stays far from the stack limit; above them the file is refused before the expensive work starts.
 */
export const DAG_FILE_LIMITS = {
  /** Bytes of one DAG file; checked by size before a file is read, and by length for text handed over in memory. */
  maxBytes: 1024 * 1024,
  /** Nested collections (mappings and sequences, aliases expanded). */
  maxDepth: 64,
  /** Lexical tokens (keys, values, indicators): the YAML parser's cost grows with them. */
  maxTokens: 100_000,
  /** Characters of one string; longer texts belong in a file of the repository (a playbook, a script). */
  maxStringLength: 128 * 1024,
  /** Values an alias may stand for, summed over the document (YAML's defence against alias bombs). */
  maxAliasCount: 100,
} as const;

export type LimitCode = 'file-limit' | 'encoding' | 'yaml-tag' | 'yaml-syntax';

/** One reason a DAG file cannot be read; `offset` is 0-based into its text. */
export interface TextProblem {
  code: LimitCode;
  offset: number;
  message: string;
}

export type ParsedDagText = { ok: true; yaml: YamlSource; raw: unknown } | { ok: false; yaml?: YamlSource; problems: TextProblem[] };

/** The message for a file over `maxBytes`, shared with the readers that check the size on disk. */
export function tooLargeMessage(bytes: number): string {
  return `file is ${bytes} bytes; DAG files are limited to ${DAG_FILE_LIMITS.maxBytes / 1024 / 1024} MiB (move long scripts or data into files of the repository)`;
}

// YAML 1.2 allows tab, line breaks and printable characters only; anything else means a binary or corrupted file.
// Lone surrogates cannot come from UTF-8, but text handed over in memory might carry them.
const NOT_PRINTABLE = /[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x84\x86-\x9F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function characterProblem(text: string): TextProblem | undefined {
  const match = NOT_PRINTABLE.exec(text);
  if (!match) return undefined;
  const code = (match[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  return { code: 'encoding', offset: match.index, message: `control character U+${code} is not allowed in YAML; is this a binary file?` };
}

// The YAML lexer and CST parser do not recurse, so nesting and size are measured while they run and
// reading stops at the first limit: composing a document ten thousand levels deep takes seconds and
// ends in a stack overflow. Below the limits the same tokens are composed, so the text is parsed once.
function parseWithinLimits(text: string): TextProblem | YamlSource {
  const lineCounter = new LineCounter();
  const parser = new Parser(lineCounter.addNewLine);
  lineCounter.addNewLine(0);
  const tokens: CST.Token[] = [];
  let lexemes = 0;
  for (const lexeme of new Lexer().lex(text)) {
    lexemes += 1;
    if (lexemes > DAG_FILE_LIMITS.maxTokens) {
      return { code: 'file-limit', offset: parser.offset, message: `more than ${DAG_FILE_LIMITS.maxTokens} YAML tokens; split the DAG into smaller DAGs (uses: dag)` };
    }
    for (const token of parser.next(lexeme)) tokens.push(token);
    // The stack holds the document and the collection (or scalar) being read at each level.
    if (parser.stack.length > DAG_FILE_LIMITS.maxDepth + 2) {
      return { code: 'file-limit', offset: parser.offset, message: `nested more than ${DAG_FILE_LIMITS.maxDepth} levels deep` };
    }
  }
  for (const token of parser.end()) tokens.push(token);
  // As parseYamlSource does (source-map.ts): one document, duplicate keys left to nodeProblems.
  let document: Document.Parsed | undefined;
  for (const next of new Composer({ prettyErrors: false, uniqueKeys: false }).compose(tokens, true, text.length)) {
    if (!document) document = next;
    else {
      document.errors.push(new YAMLParseError([next.range[0], next.range[1]], 'MULTIPLE_DOCS', 'a DAG file holds one YAML document; this one has more (a second "---"?)'));
      break;
    }
  }
  return { document: document as Document.Parsed, lineCounter };
}

const PLAIN_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((name) => `tag:yaml.org,2002:${name}`));

// The text a key becomes in the parsed object; undefined for keys that are not scalars.
function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return key === null || key === undefined ? 'null' : undefined;
}

// One pass over the composed document (iterative: no depth to exhaust): tags, duplicate keys, long strings.
// Duplicate keys are found here with a set, since the parser's own check compares every pair of keys.
function nodeProblems(document: Document.Parsed, text: string): TextProblem[] {
  const problems: TextProblem[] = [];
  const pending: unknown[] = [document.contents];
  for (let node = pending.pop(); pending.length > 0 || node !== undefined; node = pending.pop()) {
    if (node === null || node === undefined || isAlias(node)) continue;
    const at = (node as Node).range?.[0] ?? 0;
    const tag = (node as Node).tag;
    if (tag !== undefined && !PLAIN_TAGS.has(tag)) {
      const shown = tag.replace(/^tag:yaml\.org,2002:/, '!!');
      // The node starts at its value; point at the tag written before it when it is spelled that way.
      const tagAt = text.lastIndexOf(shown, at);
      problems.push({ code: 'yaml-tag', offset: tagAt >= 0 && at - tagAt <= shown.length + 200 ? tagAt : at, message: `YAML tag "${shown}" is not allowed; DAG files hold plain strings, numbers, booleans, lists and mappings` });
    }
    if (isScalar(node) && typeof node.value === 'string' && node.value.length > DAG_FILE_LIMITS.maxStringLength) {
      problems.push({ code: 'file-limit', offset: at, message: `string of ${node.value.length} characters; strings are limited to ${DAG_FILE_LIMITS.maxStringLength} (move long scripts or data into files of the repository)` });
    }
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = keyText(pair.key);
        // A list, mapping or alias as a key would be turned into text by guesswork; DAG keys are names.
        if (key === undefined) problems.push({ code: 'yaml-syntax', offset: (pair.key as Node | null)?.range?.[0] ?? at, message: 'YAML syntax: mapping keys must be plain names, not lists, mappings or aliases' });
        else if (seen.has(key)) {
          problems.push({ code: 'yaml-syntax', offset: (pair.key as Node | null)?.range?.[0] ?? at, message: `YAML syntax: Map keys must be unique ("${key.length > 40 ? `${key.slice(0, 40)}…` : key}" appears twice)` });
        }
        if (key !== undefined) seen.add(key);
        pending.push(pair.key, pair.value);
      }
    } else if (isSeq(node)) {
      // One by one: spreading tens of thousands of items as arguments can itself overflow the stack.
      for (const item of node.items) pending.push(item);
    }
  }
  return problems.sort((a, b) => a.offset - b.offset);
}

function firstAlias(document: Document.Parsed): number {
  const pending: unknown[] = [document.contents];
  let first = Number.POSITIVE_INFINITY;
  for (let node = pending.pop(); pending.length > 0 || node !== undefined; node = pending.pop()) {
    if (isAlias(node)) first = Math.min(first, node.range?.[0] ?? 0);
    else if (isMap(node)) for (const pair of node.items) pending.push(pair.key, pair.value);
    else if (isSeq(node)) for (const item of node.items) pending.push(item);
  }
  return Number.isFinite(first) ? first : 0;
}

// Aliases can nest an anchored value inside itself a hundred times over, so depth is measured again after expansion.
function tooDeep(value: unknown): boolean {
  const pending: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (typeof next.value !== 'object' || next.value === null) continue;
    if (next.depth >= DAG_FILE_LIMITS.maxDepth) return true;
    for (const child of Object.values(next.value)) pending.push({ value: child, depth: next.depth + 1 });
  }
  return false;
}

/**
 * Parses a DAG file's text within DAG_FILE_LIMITS. Never throws for bad input: every problem comes
 * back with its offset. A document with YAML syntax errors comes back `ok` with `raw` undefined,
 * so the caller reports the parser's own errors.
 */
export function parseDagText(text: string): ParsedDagText {
  if (text.length > DAG_FILE_LIMITS.maxBytes) return { ok: false, problems: [{ code: 'file-limit', offset: 0, message: tooLargeMessage(text.length) }] };
  const early = characterProblem(text);
  if (early) return { ok: false, problems: [early] };
  const yaml = parseWithinLimits(text);
  if (!('document' in yaml)) return { ok: false, problems: [yaml] };
  if (yaml.document.errors.length > 0) return { ok: true, yaml, raw: undefined };
  const problems = nodeProblems(yaml.document, text);
  if (problems.length > 0) return { ok: false, yaml, problems };
  let raw: unknown;
  try {
    raw = yaml.document.toJS({ maxAliasCount: DAG_FILE_LIMITS.maxAliasCount });
  } catch (error) {
    // The parser throws ReferenceError for alias bombs, and an alias chain could still run out of stack.
    if (!(error instanceof ReferenceError || error instanceof RangeError)) throw error;
    const message = `YAML aliases expand to more than ${DAG_FILE_LIMITS.maxAliasCount} values (an alias bomb?); write the values out or use fewer aliases`;
    return { ok: false, yaml, problems: [{ code: 'file-limit', offset: firstAlias(yaml.document), message }] };
  }
  if (tooDeep(raw)) return { ok: false, yaml, problems: [{ code: 'file-limit', offset: firstAlias(yaml.document), message: `nested more than ${DAG_FILE_LIMITS.maxDepth} levels deep once aliases are expanded` }] };
  return { ok: true, yaml, raw };
}

/** 1-based line and column of `offset`, for problems found before a YAML line counter exists. */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let index = text.indexOf('\n'); index >= 0 && index < offset; index = text.indexOf('\n', index + 1)) {
    line += 1;
    lineStart = index + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/** The diagnostics of a file parseDagText refused, located in `file.text`. */
export function limitDiagnostics(file: { path: string; text: string }, refused: Extract<ParsedDagText, { ok: false }>): DagDiagnostic[] {
  return refused.problems.map((problem) => {
    const position = refused.yaml ? refused.yaml.lineCounter.linePos(problem.offset) : undefined;
    const { line, column } = position ? { line: position.line, column: position.col } : positionOf(file.text, problem.offset);
    return { code: problem.code, file: file.path, line, column, path: '', message: problem.message };
  });
}
