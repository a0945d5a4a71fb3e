/** One retrievable piece of a source file, with where it came from. */
export interface Chunk {
  /** Stable within one version of the file: `<file>:<startLine>`. */
  id: string;
  /** Path relative to the project root, or `help/<tool>` for captured --help output. */
  file: string;
  startLine: number;
  endLine: number;
  /** Heading path ("DAG file format › Params") or a label for non-markdown sources. */
  heading: string;
  text: string;
}

const MAX_CHARS = 1800;
const WINDOW_LINES = 40;

function makeChunk(file: string, heading: string, lines: readonly string[], startIndex: number): Chunk {
  return { id: `${file}:${startIndex + 1}`, file, startLine: startIndex + 1, endLine: startIndex + lines.length, heading, text: lines.join('\n').trim() };
}

/** Splits a section too long for one prompt slot into pieces at blank lines, keeping its heading. */
function splitLong(file: string, heading: string, lines: readonly string[], startIndex: number): Chunk[] {
  const chunks: Chunk[] = [];
  let from = 0;
  let size = 0;
  for (let index = 0; index < lines.length; index += 1) {
    size += (lines[index]?.length ?? 0) + 1;
    const atBreak = lines[index]?.trim() === '' || index === lines.length - 1;
    if ((size >= MAX_CHARS && atBreak) || index === lines.length - 1 || size >= MAX_CHARS * 2) {
      chunks.push(makeChunk(file, heading, lines.slice(from, index + 1), startIndex + from));
      from = index + 1;
      size = 0;
    }
  }
  return chunks.filter((chunk) => chunk.text !== '');
}

/** Markdown by heading: each section (heading to next heading of any level) is one chunk; fences are not headings. */
export function chunkMarkdown(file: string, text: string): Chunk[] {
  const lines = text.split('\n');
  const chunks: Chunk[] = [];
  const trail: string[] = [];
  let sectionStart = 0;
  let heading = file;
  let inFence = false;
  const close = (end: number): void => {
    if (end > sectionStart) chunks.push(...splitLong(file, heading, lines.slice(sectionStart, end), sectionStart));
  };
  lines.forEach((line, index) => {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const match = inFence ? null : /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line);
    if (!match) return;
    close(index);
    const level = match[1]?.length ?? 1;
    trail.length = level - 1;
    trail[level - 1] = (match[2] ?? '').replace(/`/g, '');
    heading = trail.filter(Boolean).join(' › ');
    sectionStart = index;
  });
  close(lines.length);
  return chunks;
}

/** YAML (DAGs, playbooks, kcli plans): windows of lines cut at top-level or list-item boundaries, labelled by the nearest name. */
export function chunkYaml(file: string, text: string): Chunk[] {
  const lines = text.split('\n');
  const chunks: Chunk[] = [];
  let from = 0;
  for (let index = 1; index <= lines.length; index += 1) {
    const line = lines[index] ?? '';
    const boundary = index === lines.length || (/^(\S|- |\s{2}- )/.test(line) && index - from >= WINDOW_LINES / 2) || index - from >= WINDOW_LINES * 2;
    if (!boundary) continue;
    const slice = lines.slice(from, index);
    const name = slice.map((entry) => /^\s*-?\s*(?:name|id|description):\s*(.+)$/.exec(entry)?.[1]).find(Boolean);
    chunks.push(...splitLong(file, name ? `${file} › ${name.replace(/^["']|["']$/g, '')}` : file, slice, from));
    from = index;
  }
  return chunks;
}

/** Plain text (captured --help): sections start at unindented lines ending with ":" or in capitals. */
export function chunkPlain(file: string, text: string): Chunk[] {
  const lines = text.split('\n');
  const chunks: Chunk[] = [];
  let from = 0;
  let heading = file;
  for (let index = 1; index <= lines.length; index += 1) {
    const line = lines[index] ?? '';
    const header = index < lines.length && /^(?:[A-Za-z][\w -]*:|[A-Z][A-Z ]+)$/.test(line.trim()) && !/^\s/.test(line);
    if (!header && index < lines.length && index - from < WINDOW_LINES) continue;
    chunks.push(...splitLong(file, heading, lines.slice(from, index), from));
    if (header) heading = `${file} › ${line.trim().replace(/:$/, '')}`;
    from = index;
  }
  return chunks;
}

export function chunkFile(file: string, text: string): Chunk[] {
  if (/\.(md|markdown)$/i.test(file)) return chunkMarkdown(file, text);
  if (/\.(ya?ml)$/i.test(file)) return chunkYaml(file, text);
  return chunkPlain(file, text);
}
