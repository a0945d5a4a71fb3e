import { readFileSync, statSync } from 'node:fs';
import { checkDagFile, type CheckResult, type CompileContext, type DagFile } from '../compiler/compile';
import type { DagDiagnostic } from '../compiler/diagnostics';
import { DAG_FILE_LIMITS, positionOf, tooLargeMessage } from '../compiler/parse-limits';

/** Reading and checking one file of a DAG directory, so that one bad file never takes the others down. */

/** The text of a DAG file, or why it cannot be read: too large, not UTF-8, gone. */
export type DagFileText = { ok: true; text: string } | { ok: false; diagnostic: DagDiagnostic };

// Offset of the first byte that does not continue valid UTF-8 (overlong forms and surrogates included), or -1.
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let index = 0; index < bytes.length; ) {
    const lead = bytes[index] ?? 0;
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    if (length === 0) return index;
    const second = bytes[index + 1] ?? 0;
    if (length >= 2 && (second & 0xc0) !== 0x80) return index;
    if ((lead === 0xe0 && second < 0xa0) || (lead === 0xed && second > 0x9f) || (lead === 0xf0 && second < 0x90) || (lead === 0xf4 && second > 0x8f)) return index;
    for (let extra = 2; extra < length; extra += 1) if (((bytes[index + extra] ?? 0) & 0xc0) !== 0x80) return index;
    index += length;
  }
  return -1;
}

/**
 * Reads one DAG file for the catalog or a repository sync. The size is checked before reading, so a
 * huge file costs one stat; bytes that are not UTF-8 are reported where they are instead of being
 * replaced silently. `shownPath` is what diagnostics print.
 */
export function readDagFileText(absolutePath: string, shownPath: string): DagFileText {
  const refuse = (code: DagDiagnostic['code'], message: string, line = 1, column = 1): DagFileText => ({
    ok: false,
    diagnostic: { code, file: shownPath, line, column, path: '', message },
  });
  let bytes: Buffer;
  try {
    const size = statSync(absolutePath).size;
    if (size > DAG_FILE_LIMITS.maxBytes) return refuse('file-limit', tooLargeMessage(size));
    bytes = readFileSync(absolutePath);
  } catch (error) {
    return refuse('unreadable', `cannot read the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  // The size may have changed between stat and read.
  if (bytes.length > DAG_FILE_LIMITS.maxBytes) return refuse('file-limit', tooLargeMessage(bytes.length));
  const invalid = firstInvalidUtf8(bytes);
  if (invalid >= 0) {
    const before = new TextDecoder('utf-8').decode(bytes.subarray(0, invalid));
    const { line, column } = positionOf(before, before.length);
    return refuse('encoding', `invalid UTF-8 (byte 0x${(bytes[invalid] ?? 0).toString(16).padStart(2, '0')}); DAG files are UTF-8 text`, line, column);
  }
  return { ok: true, text: new TextDecoder('utf-8').decode(bytes) };
}

/**
 * checkDagFile for one file among many. The compiler reports bad files as diagnostics; should it
 * ever throw instead (a bug), the error becomes this file's diagnostic rather than ending the listing.
 */
export function checkCatalogFile(file: DagFile, context: CompileContext): CheckResult {
  try {
    return checkDagFile(file, context);
  } catch (error) {
    const message = error instanceof Error ? `${error.name}: ${error.message.slice(0, 200)}` : String(error).slice(0, 200);
    return { diagnostics: [{ code: 'internal', file: file.path, line: 1, column: 1, path: '', message: `the compiler failed on this file (${message}); please report it` }] };
  }
}
