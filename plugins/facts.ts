import { readFileSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import type { FactContext, HostFacts, PreflightCheck, QubinodePlugin } from './plugin-api';

/** Reads files under `root` ("/" for this host; a disk image or fixture directory otherwise). */
export function factContext(root: string, env: NodeJS.ProcessEnv = process.env): FactContext {
  const under = (rel: string): string => path.join(root, rel);
  return {
    root,
    env,
    readFile(rel) {
      try {
        return readFileSync(under(rel), 'utf8');
      } catch {
        return undefined;
      }
    },
    listDir(rel) {
      try {
        return readdirSync(under(rel));
      } catch {
        return [];
      }
    },
  };
}

export interface FactsReport {
  facts: HostFacts;
  checks: PreflightCheck[];
  /** Plugins whose facts hook threw: their name and the message. */
  errors: { plugin: string; message: string }[];
}

/** Runs every plugin's facts, then every preflight over all facts. A failing plugin is reported, not fatal. */
export async function gatherFacts(plugins: readonly QubinodePlugin[], ctx: FactContext): Promise<FactsReport> {
  const facts: HostFacts = {};
  const errors: FactsReport['errors'] = [];
  for (const plugin of plugins) {
    if (plugin.facts === undefined) continue;
    try {
      facts[plugin.name] = await plugin.facts(ctx);
    } catch (error) {
      errors.push({ plugin: plugin.name, message: (error as Error).message });
    }
  }
  const checks = plugins.flatMap((plugin) => plugin.preflight?.(facts) ?? []);
  return { facts, checks, errors };
}
