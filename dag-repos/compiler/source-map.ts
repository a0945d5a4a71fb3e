import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';

export type DocPath = readonly (string | number)[];

export interface YamlSource {
  document: Document.Parsed;
  lineCounter: LineCounter;
}

/** Parses without judging size or depth: DAG files go through parseDagText (parse-limits.ts), which checks those first. */
export function parseYamlSource(text: string): YamlSource {
  const lineCounter = new LineCounter();
  // Duplicate keys are found by parse-limits in one pass; the parser's own check compares every pair of keys.
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  return { document, lineCounter };
}

function childOf(node: unknown, key: string | number): { node: Node | null; keyNode: Node | null } | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const pairKey = isScalar(pair.key) ? pair.key.value : pair.key;
      if (String(pairKey) === String(key)) {
        return { node: (pair.value as Node | null) ?? null, keyNode: (pair.key as Node | null) ?? null };
      }
    }
    return undefined;
  }
  if (isSeq(node) && typeof key === 'number') {
    const item = node.items[key];
    return item === undefined ? undefined : { node: item as Node, keyNode: null };
  }
  return undefined;
}

/**
 * Line and column (1-based) of the YAML node at `path`, or of its nearest existing ancestor.
 * With `pointAtKey`, a mapping entry is located by its key (for "unknown field" errors).
 */
export function locate(source: YamlSource, path: DocPath, pointAtKey = false): { line: number; column: number } {
  let current: unknown = source.document.contents;
  let best: Node | null = (source.document.contents as Node | null) ?? null;
  for (const key of path) {
    const next = childOf(current, key);
    if (!next) break;
    best = (pointAtKey ? next.keyNode ?? next.node : next.node ?? next.keyNode) ?? best;
    current = next.node;
  }
  const offset = best?.range?.[0] ?? 0;
  const position = source.lineCounter.linePos(offset);
  return { line: position.line, column: position.col };
}

/** `tasks.create.with.memory` instead of `tasks[3].with.memory` when the task has an id. */
export function displayPath(path: DocPath, taskIdAt: (index: number) => string | undefined): string {
  let out = '';
  path.forEach((segment, position) => {
    if (typeof segment === 'number') {
      const id = position === 1 && path[0] === 'tasks' ? taskIdAt(segment) : undefined;
      out += id ? `.${id}` : `[${segment}]`;
    } else {
      out += out ? `.${segment}` : segment;
    }
  });
  return out;
}

/**
 * Line and column of the `occurrence`-th (0-based) `needle` inside the string at `path`, counted in
 * the file's own text; undefined when the node is not a string or its text does not show the needle
 * that often (an escape sequence can hide it).
 */
export function locateInString(
  source: YamlSource,
  text: string,
  path: DocPath,
  spot: { needle: string; occurrence: number },
): { line: number; column: number } | undefined {
  const node: unknown = source.document.getIn(path, true);
  if (!isScalar(node) || typeof node.value !== 'string' || !node.range) return undefined;
  const raw = text.slice(node.range[0], node.range[1]);
  let at = -1;
  for (let seen = 0; seen <= spot.occurrence; seen++) {
    at = raw.indexOf(spot.needle, at + 1);
    if (at < 0) return undefined;
  }
  const position = source.lineCounter.linePos(node.range[0] + at);
  return { line: position.line, column: position.col };
}
