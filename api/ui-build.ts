import * as path from 'node:path';
import { PROJECT_ROOT } from '../config/project-root';

/** The page's browser code, as the server hands it out. */
export interface UiBundle {
  js: string;
  css: string;
}

/** Where the page's sources start (the same from the sources and from dist/, both resolved from the checkout). */
export const UI_ENTRY = path.join(PROJECT_ROOT, 'api', 'ui', 'page', 'main.tsx');

/** The page could not be built; the details are for the server log, never for the browser. */
export class UiBuildError extends Error {
  override readonly name = 'UiBuildError';
}

/** Bundles the page in memory: one script and one stylesheet, minified, no CDN and no files written. */
export async function buildUiBundle(entry: string = UI_ENTRY): Promise<UiBundle> {
  // Loaded here, not at the top: only a process that serves the page pays for the bundler.
  const esbuild = await import('esbuild');
  let result;
  try {
    result = await esbuild.build({
      entryPoints: { app: entry },
      bundle: true,
      minify: true,
      format: 'iife',
      target: 'es2020',
      platform: 'browser',
      jsx: 'automatic',
      jsxImportSource: 'preact',
      write: false,
      // Output names only: with write:false nothing lands on disk.
      outdir: path.join(PROJECT_ROOT, '.data', 'ui-build'),
      define: { 'process.env.NODE_ENV': '"production"' },
      logLevel: 'silent',
      charset: 'utf8',
    });
  } catch (error) {
    const failure = error as { errors?: { text: string; location?: { file: string; line: number } | null }[] };
    const details = (failure.errors ?? []).map((item) => (item.location ? `${item.location.file}:${item.location.line}: ${item.text}` : item.text));
    throw new UiBuildError(`the web page could not be built from ${entry}: ${details.length > 0 ? details.join('; ') : (error as Error).message}`);
  }
  const js = result.outputFiles.find((file) => file.path.endsWith('.js'))?.text;
  if (js === undefined) throw new UiBuildError(`the web page build from ${entry} produced no script`);
  return { js, css: result.outputFiles.find((file) => file.path.endsWith('.css'))?.text ?? '' };
}

/**
 * The bundle built once per process, on first use, and shared by every request after; a failed build
 * stays failed until restart, so no stranger can make the server build again and again.
 */
export function memoisedUiBundle(entry: string = UI_ENTRY): () => Promise<UiBundle> {
  let built: Promise<UiBundle> | undefined;
  return () => (built ??= buildUiBundle(entry));
}
