import { readFile, stat } from 'node:fs/promises';

/** Larger outputs would bloat workflow history; such a file is ignored with a warning. */
export const OUTPUTS_FILE_LIMIT_BYTES = 64 * 1024;

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export interface ParsedOutputs {
  outputs: Record<string, unknown>;
  warnings: string[];
}

/**
 * Parses `key=value` lines. A value that parses as JSON becomes that JSON, otherwise the string.
 * Blank lines are ignored; malformed lines become warnings. `transform` (e.g. redaction)
 * is applied to the raw value before parsing.
 */
export function parseOutputs(text: string, transform: (value: string) => string = (value) => value): ParsedOutputs {
  const outputs: Record<string, unknown> = {};
  const malformed: number[] = [];
  text.split('\n').forEach((rawLine, index) => {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === '') return;
    const eq = line.indexOf('=');
    const key = eq < 0 ? '' : line.slice(0, eq).trim();
    if (!KEY.test(key)) {
      malformed.push(index + 1);
      return;
    }
    outputs[key] = parseValue(transform(line.slice(eq + 1)));
  });
  const warnings =
    malformed.length === 0
      ? []
      : [`ignored ${malformed.length} malformed QUBINODE_OUTPUTS line(s) (line ${malformed.join(', ')}); expected key=value`];
  return { outputs, warnings };
}

function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    // Not JSON: the plain string is the value, by design.
    return raw;
  }
}

/** Reads and parses an outputs file; a missing file means no outputs. */
export async function readOutputsFile(
  path: string,
  transform?: (value: string) => string,
): Promise<ParsedOutputs> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { outputs: {}, warnings: [] };
    throw error;
  }
  if (size > OUTPUTS_FILE_LIMIT_BYTES) {
    return {
      outputs: {},
      warnings: [`QUBINODE_OUTPUTS file is ${size} bytes, over the ${OUTPUTS_FILE_LIMIT_BYTES}-byte limit; ignored`],
    };
  }
  return parseOutputs(await readFile(path, 'utf8'), transform);
}
