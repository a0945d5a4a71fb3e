import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import type { DagSpec } from '../schema/dag-spec';
import { locate, parseYamlSource, type DocPath, type YamlSource } from '../compiler/source-map';
import { isWithin, realPath } from './real-paths';
import { CREDENTIAL_KEY, DANGEROUS_COMMANDS, REPO_PATH_KEYS, SECRET_PATTERNS } from './rules';
import type { Finding, Severity } from '../schema/findings';


function isPlainSecretLiteral(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '' && !value.includes('${{') && !value.startsWith('secret://');
}

function walkValues(value: unknown, at: DocPath, visit: (value: unknown, at: DocPath, key: string | undefined) => void, key?: string): void {
  visit(value, at, key);
  if (Array.isArray(value)) value.forEach((item, index) => walkValues(item, [...at, index], visit));
  else if (value !== null && typeof value === 'object') for (const [childKey, item] of Object.entries(value)) walkValues(item, [...at, childKey], visit, childKey);
}

function escapesRepository(relative: string): boolean {
  if (path.isAbsolute(relative)) return true;
  return path.normalize(relative).split(path.sep)[0] === '..';
}

/**
 * Scans one DAG file: secrets in its text, credential literals, dangerous shell commands and
 * repository paths that escape it. `spec` is the parsed DAG when it validated (for per-task checks).
 */
export function scanDagText(file: { path: string; text: string }, spec?: DagSpec): Finding[] {
  // Parsed only to locate findings of a DAG that validated: a file the compiler refused may be too large or deep to parse again.
  let yaml: YamlSource | undefined;
  const findings: Finding[] = [];
  const add = (rule: string, severity: Severity, at: DocPath, message: string, taskIndex?: number): void => {
    yaml ??= parseYamlSource(file.text);
    const { line, column } = locate(yaml, at);
    const allow = taskIndex === undefined ? undefined : spec?.tasks[taskIndex]?.securityAllow?.find((entry) => entry.rule === rule);
    const task = taskIndex === undefined ? undefined : spec?.tasks[taskIndex]?.id;
    findings.push({ rule, severity, file: file.path, line, column, message, ...(allow ? { allowedBecause: allow.reason } : {}), ...(task ? { task } : {}) });
  };

  file.text.split('\n').forEach((lineText, index) => {
    for (const secret of SECRET_PATTERNS) {
      const match = secret.pattern.exec(lineText);
      if (match) {
        const { line } = { line: index + 1 };
        findings.push({ rule: secret.rule, severity: secret.severity, file: file.path, line, column: match.index + 1, message: `${secret.what} is written in the file; use a secret reference (secret://env/NAME)` });
      }
    }
  });

  spec?.tasks.forEach((task, taskIndex) => {
    const taskPath: DocPath = ['tasks', taskIndex];
    walkValues(task.with, [...taskPath, 'with'], (value, at, key) => {
      if (key !== undefined && CREDENTIAL_KEY.test(key) && isPlainSecretLiteral(value)) {
        add('password-literal', 'high', at, `"${key}" holds a literal value; use a secret reference (secret://env/NAME) or a secret param`, taskIndex);
      }
      if (key !== undefined && REPO_PATH_KEYS.includes(key) && typeof value === 'string' && !value.includes('${{') && escapesRepository(value)) {
        add('path-escape', 'high', at, `"${value}" points outside the DAG repository; keep ${key}s in the repository`, taskIndex);
      }
    });
    if (task.uses === 'shell') {
      const commands: { text: string; at: DocPath }[] = [];
      if (typeof task.with.script === 'string') commands.push({ text: task.with.script, at: [...taskPath, 'with', 'script'] });
      if (Array.isArray(task.with.command)) {
        const argv = task.with.command.map(String);
        const shellScript = ['sh', 'bash', '/bin/sh', '/bin/bash'].includes(argv[0] ?? '') && argv[1] === '-c' ? argv[2] : undefined;
        commands.push({ text: shellScript ?? argv.join(' '), at: [...taskPath, 'with', 'command'] });
      }
      for (const command of commands) {
        for (const danger of DANGEROUS_COMMANDS) {
          if (danger.pattern.test(command.text)) add('dangerous-command', danger.severity, command.at, `${danger.what}; if this is intended, add securityAllow: [{rule: dangerous-command, reason: ...}] to the task`, taskIndex);
        }
      }
    }
  });
  return findings;
}

/**
 * Symlinks anywhere in a checked-out repository that do not resolve inside it, judged by the real
 * path the file system resolves (chains, `..` after a link, absolute targets), not by the link's text.
 * A link that cannot be resolved (missing target, loop) cannot be shown to stay inside, so it is reported too.
 */
export function scanRepositoryTree(root: string): Finding[] {
  const findings: Finding[] = [];
  const realRoot = realPath(root) ?? path.resolve(root);
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === '.git') continue;
      const full = path.join(dir, entry.name);
      if (entry.isSymbolicLink()) {
        const file = path.relative(realRoot, full);
        const real = realPath(full);
        if (real === undefined) {
          findings.push({ rule: 'symlink-escape', severity: 'high', file, line: 1, column: 1, message: `symlink cannot be resolved (missing target or a loop), so it cannot be shown to stay inside the repository (${readlinkSync(full)})` });
        } else if (!isWithin(realRoot, real)) {
          findings.push({ rule: 'symlink-escape', severity: 'high', file, line: 1, column: 1, message: `symlink points outside the repository (${readlinkSync(full)})` });
        }
      } else if (entry.isDirectory() && !lstatSync(full).isSymbolicLink()) {
        walk(full);
      }
    }
  };
  walk(realRoot);
  return findings;
}
