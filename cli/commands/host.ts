import type { Command } from 'commander';
import { DIAG_TOOLS, type DiagTool } from '../../client/diag-tools';
import type * as WorkersMain from '../../workers/main';
import { CliError } from '../context';

// The worker's module (facts, diagnostics) loads only in the action that uses it (see cli/main.ts).
const workersMain = (): typeof WorkersMain => require('../../workers/main') as typeof WorkersMain;

export function registerHostCommands(program: Command): void {
  program
    .command('diag')
    .description(`Diagnose this host: ${DIAG_TOOLS.join(', ')} (all when TOOL is omitted)`)
    .argument('[tool]', 'one diagnostic')
    .option('--json', 'print JSON')
    .action(async (tool: string | undefined, options: { json?: boolean }) => {
      if (tool !== undefined && !(DIAG_TOOLS as readonly string[]).includes(tool)) throw new CliError(`unknown diag tool "${tool}"; one of ${DIAG_TOOLS.join(', ')}`, 2);
      const results = await workersMain().localDiagnostics(tool === undefined ? DIAG_TOOLS : [tool as DiagTool]);
      if (options.json) {
        console.log(JSON.stringify(tool === undefined ? results : results[tool], null, 2));
        return;
      }
      for (const [name, result] of Object.entries(results)) {
        console.log(`== ${name}`);
        printTree(result, '  ');
      }
    });

  program
    .command('facts')
    .description('Print what the plugins detect: OS id, version, family, package manager, x86_64-v3, environment; and preflight checks')
    .option('--root <dir>', 'read etc/os-release, proc/cpuinfo, ... under DIR instead of / (disk images, tests)', '/')
    .option('--json', 'print JSON')
    .action(async (options: { root: string; json?: boolean }) => {
      const report = await workersMain().localFacts(options.root);
      if (options.json) {
        console.log(JSON.stringify(report, null, 2));
        return;
      }
      const os = report.facts.os ?? {};
      const cpu = (os.cpu ?? {}) as Record<string, unknown>;
      const env = report.facts.environment ?? {};
      const rows: [string, unknown][] = [
        ['os', os.id],
        ['name', os.name],
        ['version', os.version],
        ['major version', os.majorVersion],
        ['family', os.family],
        ['package manager', os.packageManager],
        ['python', os.pythonVersion ?? 'not found'],
        ['x86_64 level', cpu.x86_64Level ?? 'unknown'],
        ['x86_64-v3', cpu.x86_64V3 ?? 'unknown'],
        ['virtualization', cpu.virtualization ?? 'none'],
        ['environment', `${String(env.kind ?? 'unknown')} (${String(env.source ?? '?')})`],
      ];
      for (const [label, value] of rows) console.log(`${label.padEnd(16)} ${String(value ?? '-')}`);
      console.log('preflight:');
      for (const check of report.checks) console.log(`  ${check.ok ? 'ok  ' : check.severity === 'error' ? 'FAIL' : 'warn'} ${check.id}: ${check.message}`);
      for (const error of report.errors) console.log(`  plugin ${error.plugin} failed: ${error.message}`);
    });
}

function printTree(value: unknown, indent: string): void {
  if (value === null || typeof value !== 'object') {
    console.log(`${indent}${String(value)}`);
    return;
  }
  for (const [key, item] of Object.entries(value)) {
    if (item !== null && typeof item === 'object') {
      const flat = Array.isArray(item) && item.every((entry) => entry === null || typeof entry !== 'object');
      if (flat) console.log(`${indent}${key}: ${(item as unknown[]).join(', ')}`);
      else {
        console.log(`${indent}${key}:`);
        printTree(item, `${indent}  `);
      }
    } else console.log(`${indent}${key}: ${String(item)}`);
  }
}
