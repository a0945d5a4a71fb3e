import { builtinModules } from 'node:module';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** One import of a module: its specifier and whether it is erased at compile time (`import type`, `export type`). */
export interface ModuleImport {
  specifier: string;
  typeOnly: boolean;
}

/** Something workflow code reaches that it must not: the chain runs from the entry file to the offending import. */
export interface ImportFinding {
  kind: 'node-builtin' | 'forbidden-folder';
  /** Files relative to the root, from the entry to the importing module, then the offending specifier or file. */
  chain: string[];
}

const BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/** Node built-ins, whatever their spelling: `fs`, `node:fs`, `fs/promises`, `node:test`. */
export function isNodeBuiltin(specifier: string): boolean {
  return BUILTINS.has(specifier) || specifier.startsWith('node:') || BUILTINS.has(specifier.split('/')[0] ?? '');
}

function isTypeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (!clause) return false; // `import './x'` runs the module
  if (clause.isTypeOnly) return true;
  if (clause.name) return false;
  const bindings = clause.namedBindings;
  return bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((element) => element.isTypeOnly);
}

function isTypeOnlyExport(node: ts.ExportDeclaration): boolean {
  if (node.isTypeOnly) return true;
  const clause = node.exportClause;
  return clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((element) => element.isTypeOnly);
}

/** Every import of a source file: static imports and re-exports, `import x = require()`, and `require()`/`import()` calls anywhere with a literal specifier. */
export function moduleImports(fileName: string, text: string): ModuleImport[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const found: ModuleImport[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: isTypeOnlyImport(node) });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      found.push({ specifier: node.moduleSpecifier.text, typeOnly: isTypeOnlyExport(node) });
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteral(node.moduleReference.expression)) {
      found.push({ specifier: node.moduleReference.expression.text, typeOnly: node.isTypeOnly });
    } else if (ts.isCallExpression(node) && node.arguments.length > 0) {
      const [first] = node.arguments;
      const isLoader = node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require');
      if (isLoader && first && ts.isStringLiteralLike(first)) found.push({ specifier: first.text, typeOnly: false });
    } else if (ts.isImportTypeNode(node)) {
      return; // `import('x').T` in a type position is erased
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function compilerOptionsOf(root: string): ts.CompilerOptions {
  const configPath = path.join(root, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, ts.sys.readFile);
  if (read.error) return { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10 };
  return ts.parseJsonConfigFileContent(read.config, ts.sys, root).options;
}

export interface WorkflowImportRules {
  /** Top-level folders whose modules workflow code may reach as types only. */
  forbiddenFolders: string[];
}

/**
 * Walks the runtime import graph (type-only imports are erased, so they are not followed) from each
 * entry file and reports every reachable module that imports a Node built-in, and every runtime
 * import of a module under a forbidden folder, each with the chain of files that reaches it.
 * Packages under node_modules are not walked.
 */
export function findWorkflowImportProblems(root: string, entries: string[], rules: WorkflowImportRules): ImportFinding[] {
  const options = compilerOptionsOf(root);
  const relative = (file: string): string => path.relative(root, file).split(path.sep).join('/');
  const isForbidden = (file: string): boolean => rules.forbiddenFolders.includes(relative(file).split('/')[0] ?? '');
  const parent = new Map<string, string | undefined>();
  const chainTo = (file: string): string[] => {
    const chain: string[] = [];
    for (let at: string | undefined = file; at !== undefined; at = parent.get(at)) chain.unshift(relative(at));
    return chain;
  };
  const findings: ImportFinding[] = [];
  const reported = new Set<string>();
  const report = (finding: ImportFinding): void => {
    const key = `${finding.kind}:${finding.chain.at(-2)}:${finding.chain.at(-1)}`;
    if (reported.has(key)) return;
    reported.add(key);
    findings.push(finding);
  };
  const queue: string[] = [];
  for (const entry of entries.map((file) => path.resolve(root, file))) {
    if (!parent.has(entry)) {
      parent.set(entry, undefined);
      queue.push(entry);
    }
  }
  while (queue.length > 0) {
    const file = queue.shift() as string;
    for (const { specifier, typeOnly } of moduleImports(file, readFileSync(file, 'utf8'))) {
      if (typeOnly) continue;
      if (isNodeBuiltin(specifier)) {
        report({ kind: 'node-builtin', chain: [...chainTo(file), specifier] });
        continue;
      }
      const resolved = ts.resolveModuleName(specifier, file, options, ts.sys).resolvedModule;
      if (!resolved || resolved.isExternalLibraryImport || resolved.resolvedFileName.includes(`${path.sep}node_modules${path.sep}`)) continue;
      const target = resolved.resolvedFileName;
      if (isForbidden(target)) {
        report({ kind: 'forbidden-folder', chain: [...chainTo(file), relative(target)] });
        continue;
      }
      if (parent.has(target) || target.endsWith('.d.ts') || target.endsWith('.json')) continue;
      parent.set(target, file);
      queue.push(target);
    }
  }
  return findings;
}

/** One line per finding, for assertion messages: `node-builtin: workflows/a.ts -> dag-repos/b.ts -> node:fs`. */
export function describeFindings(findings: ImportFinding[]): string {
  return findings.map((finding) => `${finding.kind}: ${finding.chain.join(' -> ')}`).join('\n');
}
