import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One file to index: its path as cited (relative to the project root, or `help/<tool>.txt`) and its text. */
export interface SourceFile {
  file: string;
  text: string;
  hash: string;
}

export interface SourceRoots {
  projectRoot: string;
  /** Directories of markdown docs (docs/). */
  docDirs: readonly string[];
  /** DAG repositories: DAG files, playbooks, kcli plans (any YAML in them). */
  dagDirs: readonly string[];
  /** Where captured --help output is cached. */
  helpDir: string;
  /** Directory holding ansible-navigator and kcli (the project venv's bin). */
  toolBin: string;
}

const SKIP_DIRS = new Set(['node_modules', '.git', 'dist', '.tools', '.data', 'collections', '__pycache__']);
const MAX_FILE_BYTES = 512 * 1024;

export function hashText(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function walk(dir: string, accept: (name: string) => boolean, found: string[] = []): string[] {
  if (!existsSync(dir)) return found;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || SKIP_DIRS.has(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, accept, found);
    else if (entry.isFile() && accept(entry.name) && statSync(full).size <= MAX_FILE_BYTES) found.push(full);
  }
  return found;
}

function readSource(projectRoot: string, full: string): SourceFile {
  const text = readFileSync(full, 'utf8');
  const relative = path.relative(projectRoot, full);
  return { file: relative.startsWith('..') ? full : relative.split(path.sep).join('/'), text, hash: hashText(text) };
}

/** The tools whose --help is indexed, and the sub-commands worth capturing. */
const HELP_COMMANDS: readonly { tool: string; args: readonly string[] }[] = [
  { tool: 'ansible-navigator', args: ['--help'] },
  { tool: 'ansible-navigator', args: ['run', '--help'] },
  { tool: 'kcli', args: ['--help'] },
  { tool: 'kcli', args: ['create', 'vm', '--help'] },
  { tool: 'kcli', args: ['create', 'plan', '--help'] },
];

/**
 * Captures `--help` of ansible-navigator and kcli when they are installed in the venv, cached by the
 * binary's mtime (a help run costs a second of Python start-up). Absent tools are skipped.
 */
export async function captureToolHelp(roots: SourceRoots): Promise<SourceFile[]> {
  const files: SourceFile[] = [];
  for (const { tool, args } of HELP_COMMANDS) {
    const binary = path.join(roots.toolBin, tool);
    if (!existsSync(binary)) continue;
    const name = `${[tool, ...args.filter((arg) => arg !== '--help')].join('-')}.txt`;
    const cached = path.join(roots.helpDir, name);
    const stamp = String(statSync(binary).mtimeMs);
    let text: string | undefined;
    if (existsSync(cached) && existsSync(`${cached}.stamp`) && readFileSync(`${cached}.stamp`, 'utf8') === stamp) text = readFileSync(cached, 'utf8');
    if (text === undefined) {
      try {
        const { stdout } = await run(binary, [...args], { timeout: 20_000, maxBuffer: 4 * 1024 * 1024, env: { ...process.env, COLUMNS: '100', NO_COLOR: '1' } });
        text = `$ ${tool} ${args.join(' ')}\n${stdout}`;
      } catch {
        continue; // A tool that cannot print its help is not worth failing the index for.
      }
      mkdirSync(roots.helpDir, { recursive: true });
      writeFileSync(cached, text);
      writeFileSync(`${cached}.stamp`, stamp);
    }
    files.push({ file: `help/${name}`, text, hash: hashText(text) });
  }
  return files;
}

/** Every file the knowledge index is built from. */
export async function collectSources(roots: SourceRoots): Promise<SourceFile[]> {
  const docs = roots.docDirs.flatMap((dir) => walk(dir, (name) => /\.(md|markdown)$/i.test(name)));
  const dags = roots.dagDirs.flatMap((dir) => walk(dir, (name) => /\.(ya?ml|md|j2)$/i.test(name)));
  const unique = [...new Set([...docs, ...dags])].sort();
  return [...unique.map((full) => readSource(roots.projectRoot, full)), ...(await captureToolHelp(roots))];
}
