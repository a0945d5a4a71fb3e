const UNIT_MS = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
} as const;

type Unit = keyof typeof UNIT_MS;

type Parsed = { ok: true; ms: number } | { ok: false; error: string };

function parse(text: string): Parsed {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, error: `invalid duration "${text}": empty` };
  const part = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
  let total = 0;
  while (part.lastIndex < trimmed.length) {
    const at = part.lastIndex;
    const match = part.exec(trimmed);
    if (match === null) {
      return {
        ok: false,
        error: `invalid duration "${text}" at "${trimmed.slice(at)}": expected a number followed by ms, s, m, h or d (e.g. 250ms, 30s, 5m, 1h30m)`,
      };
    }
    total += Number(match[1]) * UNIT_MS[match[2] as Unit];
  }
  return { ok: true, ms: Math.round(total) };
}

/**
 * Parses a duration such as `250ms`, `30s`, `5m`, `1h`, `1.5h` or `1h30m` into milliseconds.
 * Throws an Error naming the text when it is not a duration.
 */
export function parseDuration(text: string): number {
  const result = parse(text);
  if (!result.ok) throw new Error(result.error);
  return result.ms;
}

/** The reason `text` is not a duration, or undefined when it is one (for schema refinements). */
export function durationError(text: string): string | undefined {
  const result = parse(text);
  return result.ok ? undefined : result.error;
}

/** Formats milliseconds as seconds with one decimal, e.g. `1.2s`, for summaries. */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
