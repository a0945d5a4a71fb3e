import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../config/logger';

/** Folders (under the tree the code runs from) whose modules can end up in the workflow bundle. */
const BUNDLED_SOURCES = ['workflows', 'dag-repos', 'activities', 'bench'];
/** Bundles kept per data directory: the current one and a few earlier ones for a checkout switched back and forth. */
const KEEP_BUNDLES = 3;
/** A temp file this old belongs to a build that died; a younger one may still be written by another process. */
const STALE_TEMP_MS = 60 * 60 * 1000;
const BUILD_TIMEOUT_MS = 5 * 60 * 1000;
/** The end of the bundler's output is where webpack names the failing file. */
const ERROR_TAIL_CHARS = 16 * 1024;

/** How the bundler ends its output: the source map, inline. */
export const INLINE_SOURCE_MAP_MARKER = '//# sourceMappingURL=data:application/json;charset=utf-8;base64,';
/** Changes whenever the bundle is post-processed differently, so no bundle cached in the older form is reused. */
const BUNDLE_FORMAT = 'mappings-without-sources-content';

/**
 * The bundler runs in a child process so webpack's few hundred MiB are returned to the system when it exits
 * rather than staying in the worker's RSS. The script is a constant: every value reaches it as argv.
 */
const BUNDLE_SCRIPT = `
const [workerModule, workflowsPath, outFile] = process.argv.slice(1);
const { writeFileSync } = require('node:fs');
const { bundleWorkflowCode } = require(workerModule);
const quiet = () => undefined;
const toStderr = (message) => process.stderr.write(String(message) + '\\n');
const logger = { error: toStderr, warn: quiet, info: quiet, debug: quiet, trace: quiet, log: quiet };
const mapMarker = '${INLINE_SOURCE_MAP_MARKER}';
// Every workflow thread parses the inline map; its copy of each source's text was two thirds of the bundle and
// tens of MiB of each thread's memory. The mappings stay, so workflow stack traces still name the .ts lines.
const withoutSourcesContent = (code) => {
  const at = code.lastIndexOf(mapMarker);
  if (at < 0) return code;
  const map = JSON.parse(Buffer.from(code.slice(at + mapMarker.length), 'base64').toString('utf8'));
  delete map.sourcesContent;
  return code.slice(0, at) + mapMarker + Buffer.from(JSON.stringify(map)).toString('base64') + '\\n';
};
bundleWorkflowCode({ workflowsPath, logger }).then(
  ({ code }) => { writeFileSync(outFile, withoutSourcesContent(code), { flag: 'wx' }); process.exit(0); },
  (error) => { toStderr(error instanceof Error ? error.message : error); process.exit(1); },
);
`;

/** The workflow bundle could not be built; `output` is the end of what the bundler reported. */
export class WorkflowBundleError extends Error {
  constructor(
    readonly workflowsPath: string,
    readonly output: string,
  ) {
    super(`could not bundle the workflows at ${workflowsPath}:\n${output}`);
    this.name = 'WorkflowBundleError';
  }
}

export interface WorkflowBundleOptions {
  /** Bundles are cached in `<dataDir>/workflow-bundles/<hash>.js`. */
  dataDir: string;
  logger?: Pick<Logger, 'info'>;
  /** The workflows' entry module; by default the one beside this module (a .ts source or the compiled dist/ .js). */
  workflowsPath?: string;
  /** The tree whose source folders the hash covers; by default the one this module runs from. */
  sourceRoot?: string;
}

/** A bundle file on disk, in the shape `Worker.create({ workflowBundle })` takes. */
export interface WorkflowBundleFile {
  codePath: string;
  /** True when this call ran the bundler, false when the cached file was reused. */
  built: boolean;
}

function defaultWorkflowsPath(): string {
  return require.resolve('../workflows');
}

function sourceFiles(dir: string): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries.flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'examples' || entry.name === 'node_modules' ? [] : sourceFiles(full);
    const module = /\.(?:[cm]?[jt]s|json)$/.test(entry.name) && !/\.(?:test\.[cm]?[jt]s|d\.[cm]?ts)$/.test(entry.name);
    return module ? [full] : [];
  });
}

function packageVersion(name: string): string {
  const manifest = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version?: unknown };
  return String(manifest.version);
}

/** Content hash of everything the bundle may include: a changed source or SDK always means a new bundle. */
export function workflowSourceHash(workflowsPath: string, sourceRoot: string): string {
  const hash = createHash('sha256');
  hash.update(`format\0${BUNDLE_FORMAT}\0workflowsPath\0${workflowsPath}\0`);
  for (const name of ['@temporalio/workflow', '@temporalio/worker']) hash.update(`${name}\0${packageVersion(name)}\0`);
  const files = BUNDLED_SOURCES.flatMap((dir) => sourceFiles(path.join(sourceRoot, dir))).sort();
  for (const file of files) {
    const content = readFileSync(file);
    hash.update(`${path.relative(sourceRoot, file)}\0${content.length}\0`).update(content);
  }
  return hash.digest('hex').slice(0, 20);
}

/** What the bundler reported, without webpack's module listing or the compiler's native backtrace. */
function bundlerMessage(output: string): string {
  const errors = output.indexOf('ERROR in ');
  return (errors >= 0 ? output.slice(errors) : output).replace(/\n*Stack backtrace:\n(?:[ \t][^\n]*(?:\n|$))*/g, '\n').trim();
}

function runBundler(workflowsPath: string, outFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', BUNDLE_SCRIPT, '--', require.resolve('@temporalio/worker'), workflowsPath, outFile], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: BUILD_TIMEOUT_MS,
    });
    let output = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      output = (output + chunk).slice(-ERROR_TAIL_CHARS);
    });
    child.once('error', (error) => reject(new WorkflowBundleError(workflowsPath, error.message)));
    const started = Date.now();
    child.once('close', (code, signal) => {
      if (code === 0) return resolve();
      const end = signal && Date.now() - started >= BUILD_TIMEOUT_MS ? `the bundler did not finish within ${BUILD_TIMEOUT_MS / 1000} s` : `the bundler exited with ${signal ? `signal ${signal}` : `code ${code}`}`;
      const message = bundlerMessage(output);
      reject(new WorkflowBundleError(workflowsPath, message ? `${message}\n(${end})` : end));
    });
  });
}

/** Removes bundles beyond the newest few, and temp files of builds that died. */
function prune(directory: string, keep: string): void {
  const now = Date.now();
  const bundles: { file: string; mtime: number }[] = [];
  for (const name of readdirSync(directory)) {
    const file = path.join(directory, name);
    try {
      const mtime = statSync(file).mtimeMs;
      if (name.endsWith('.tmp') && now - mtime > STALE_TEMP_MS) rmSync(file, { force: true });
      else if (name.endsWith('.js') && file !== keep) bundles.push({ file, mtime });
    } catch {
      // Another process removed it first.
    }
  }
  bundles.sort((a, b) => b.mtime - a.mtime);
  for (const { file } of bundles.slice(KEEP_BUNDLES - 1)) rmSync(file, { force: true });
}

/**
 * The cached bundle for the current sources, built in a child process on a miss. Not memoised: most callers
 * want {@link workflowBundle}.
 */
export async function buildWorkflowBundle(options: WorkflowBundleOptions): Promise<WorkflowBundleFile> {
  const workflowsPath = options.workflowsPath ?? defaultWorkflowsPath();
  const sourceRoot = options.sourceRoot ?? path.resolve(__dirname, '..');
  const directory = path.join(options.dataDir, 'workflow-bundles');
  const codePath = path.join(directory, `${workflowSourceHash(workflowsPath, sourceRoot)}.js`);
  if (existsSync(codePath)) {
    try {
      // Touched, so pruning by age keeps the bundles in use.
      const now = new Date();
      utimesSync(codePath, now, now);
    } catch {
      // A data directory this process may read but not write still serves its bundle.
    }
    return { codePath, built: false };
  }
  mkdirSync(directory, { recursive: true });
  // Only a complete file is ever renamed to its final name, so a reader never sees half a bundle.
  const staging = `${codePath}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  const started = Date.now();
  try {
    await runBundler(workflowsPath, staging);
    renameSync(staging, codePath);
  } finally {
    rmSync(staging, { force: true });
  }
  options.logger?.info({ codePath, ms: Date.now() - started }, 'workflow bundle built');
  prune(directory, codePath);
  return { codePath, built: true };
}

const builds = new Map<string, Promise<WorkflowBundleFile>>();

/**
 * The workflow bundle for this process's workers: one build per process (the main and the audit worker
 * share it), cached on disk across starts.
 */
export function workflowBundle(options: WorkflowBundleOptions): Promise<WorkflowBundleFile> {
  const key = JSON.stringify([options.dataDir, options.workflowsPath ?? null, options.sourceRoot ?? null]);
  let build = builds.get(key);
  if (!build) {
    build = buildWorkflowBundle(options);
    builds.set(key, build);
    // A failed build is not remembered: a later start tries again.
    build.catch(() => builds.delete(key));
  }
  return build;
}
