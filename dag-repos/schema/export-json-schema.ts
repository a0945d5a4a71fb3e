import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { DagSpec, Duration } from './dag-spec';

/**
 * Writes dag-v1.schema.json, the JSON Schema of the DAG file format, from the zod schema, so
 * editors can check DAG files as they are typed. The compiler remains the authority: the JSON
 * Schema checks shape only (no graph, action-input or expression checks).
 *
 *   npx tsx dag-repos/schema/export-json-schema.ts           write the file
 *   npx tsx dag-repos/schema/export-json-schema.ts --check   exit 1 when the file is stale
 */

export const DAG_JSON_SCHEMA_PATH = path.join(__dirname, 'dag-v1.schema.json');
const SHOWN_PATH = 'dag-repos/schema/dag-v1.schema.json';
// A URN rather than a URL: the project publishes no schema server; editors load the file by path.
const SCHEMA_ID = 'urn:qubinode-navigator:dag:v1';

/** durationError's grammar (a trimmed, non-empty sum of number+unit parts) as a JSON Schema pattern. */
export const DURATION_PATTERN = '^\\s*(?:\\d+(?:\\.\\d+)?(?:ms|s|m|h|d))+\\s*$';

/**
 * JSON Schema has no regex flags, so a case-insensitive pattern is rewritten to list both cases.
 * Only letters, ranges and plain punctuation are handled; anything else would need a real regex
 * rewriter, so it fails loudly here rather than emitting a pattern that rejects valid files.
 */
function foldCase(source: string): string {
  if (/[\\(]/.test(source)) throw new Error(`export-json-schema: cannot rewrite case-insensitive pattern /${source}/i; extend foldCase`);
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i += 1) {
    const c = source.charAt(i);
    if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    const end = source.charAt(i + 2);
    if (inClass && /[a-z]/i.test(c) && source.charAt(i + 1) === '-' && /[a-z]/i.test(end)) {
      out += `${c.toLowerCase()}-${end.toLowerCase()}${c.toUpperCase()}-${end.toUpperCase()}`;
      i += 2;
    } else if (/[a-z]/i.test(c)) {
      const both = `${c.toLowerCase()}${c.toUpperCase()}`;
      out += inClass ? both : `[${both}]`;
    } else {
      out += c;
    }
  }
  return out;
}

type Override = NonNullable<z.core.ToJSONSchemaParams['override']>;

/** Regexes of a string schema's checks (`.regex()`), which zod emits as `pattern` without their flags. */
function regexesOf(schema: z.core.$ZodType): RegExp[] {
  const checks = (schema._zod.def as { checks?: readonly z.core.$ZodCheck[] }).checks ?? [];
  return checks.map((check) => (check._zod.def as { pattern?: unknown }).pattern).filter((pattern): pattern is RegExp => pattern instanceof RegExp);
}

const override: Override = ({ zodSchema, jsonSchema }) => {
  // The duration check is a refinement, which JSON Schema cannot carry; the same grammar as a pattern can.
  if (zodSchema === Duration) jsonSchema.pattern = DURATION_PATTERN;
  for (const regex of regexesOf(zodSchema)) {
    if (!regex.flags.includes('i')) continue;
    if (jsonSchema.pattern !== regex.source) throw new Error(`export-json-schema: /${regex.source}/i is not the only pattern of its string; extend the override`);
    jsonSchema.pattern = foldCase(regex.source);
  }
};

/** The JSON Schema (draft 2020-12) of DAG files as written: defaults optional, `needs` as a string or a list. */
export function dagJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(DagSpec, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any', override }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return {
    $schema,
    $id: SCHEMA_ID,
    title: 'Qubinode Navigator DAG file (format v1)',
    description: 'A DAG of tasks run as one durable Temporal workflow. Shape only: `qubinode dag validate` also checks needs, cycles, action inputs and expressions.',
    $comment: 'Generated from dag-repos/schema/dag-spec.ts by dag-repos/schema/export-json-schema.ts; do not edit by hand.',
    ...rest,
  };
}

export function renderDagJsonSchema(): string {
  return `${JSON.stringify(dagJsonSchema(), null, 2)}\n`;
}

function main(args: readonly string[]): number {
  const fresh = renderDagJsonSchema();
  if (args.includes('--check')) {
    let committed: string | undefined;
    try {
      committed = readFileSync(DAG_JSON_SCHEMA_PATH, 'utf8');
    } catch {
      committed = undefined;
    }
    if (committed === fresh) return 0;
    console.error(`${SHOWN_PATH}: ${committed === undefined ? 'missing' : 'out of date with dag-spec.ts'}; run npx tsx dag-repos/schema/export-json-schema.ts`);
    return 1;
  }
  writeFileSync(DAG_JSON_SCHEMA_PATH, fresh);
  console.log(`${SHOWN_PATH}: written`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
