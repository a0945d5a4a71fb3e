import * as path from 'node:path';
import { collectDiag } from '../activities/diag/diag';
import { PROJECT_ROOT } from '../config/config';
import { DIAG_TOOLS, type DiagTool } from '../dag-repos/actions/diag-input';
import { factContext, gatherFacts, type FactsReport } from '../plugins/facts';
import { loadPlugins } from '../plugins/loader';

export { DIAG_TOOLS, type DiagTool };

/** Runs diagnostics on this machine (what the diag.* actions return on a worker). */
export async function localDiagnostics(tools: readonly DiagTool[]): Promise<Record<string, Record<string, unknown>>> {
  const entries = await Promise.all(tools.map(async (tool) => [tool, await collectDiag(tool, tool === 'service_status' ? { services: ['libvirtd', 'virtlogd', 'sshd'] } : {})] as const));
  return Object.fromEntries(entries);
}

/** Facts of every installed plugin (built-in and `qubinode-plugin-*` packages) about `root`. */
export async function localFacts(root = '/', env: NodeJS.ProcessEnv = process.env): Promise<FactsReport & { plugins: string[] }> {
  const plugins = loadPlugins({ nodeModules: [path.join(PROJECT_ROOT, 'node_modules')] });
  const report = await gatherFacts(plugins, factContext(path.resolve(root), env));
  return { ...report, plugins: plugins.map((plugin) => plugin.name) };
}
