import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { QubinodePlugin } from './plugin-api';

export class PluginLoadError extends Error {
  override readonly name = 'PluginLoadError';
}

export interface PluginSources {
  /** Folders whose subfolders hold `plugin.ts`/`plugin.js` exporting `plugin`; default: this folder. */
  dirs?: readonly string[];
  /** node_modules folders searched for packages named `qubinode-plugin-*`; default: none. */
  nodeModules?: readonly string[];
}

const PLUGIN_FILE = /^plugin\.(ts|js|cjs)$/;
const NPM_PREFIX = 'qubinode-plugin-';

/**
 * Loads plugins: each `<dir>/<name>/plugin.{ts,js}` (the built-in os, environment and vault plugins
 * live in this folder the same way), then each installed `qubinode-plugin-*` package. A module must
 * export `plugin` (or a default export) with at least `name` and `description`; names must be unique.
 */
export function loadPlugins(sources: PluginSources = {}): QubinodePlugin[] {
  const modules: string[] = [];
  for (const dir of sources.dirs ?? [__dirname]) {
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir).sort()) {
      const sub = path.join(dir, entry);
      if (!statSync(sub).isDirectory()) continue;
      const file = readdirSync(sub).find((name) => PLUGIN_FILE.test(name));
      if (file !== undefined) modules.push(path.join(sub, file));
    }
  }
  for (const nodeModules of sources.nodeModules ?? []) {
    if (!existsSync(nodeModules)) continue;
    for (const entry of readdirSync(nodeModules).sort()) {
      if (entry.startsWith(NPM_PREFIX) && existsSync(path.join(nodeModules, entry, 'package.json'))) modules.push(path.join(nodeModules, entry));
    }
  }
  const plugins: QubinodePlugin[] = [];
  for (const module of modules) {
    const plugin = pluginFrom(module);
    if (plugins.some((other) => other.name === plugin.name)) throw new PluginLoadError(`${module}: plugin name "${plugin.name}" is already taken`);
    plugins.push(plugin);
  }
  return plugins;
}

function pluginFrom(module: string): QubinodePlugin {
  let exported: Record<string, unknown>;
  try {
    // Plugins are installed code, loaded synchronously at start-up like any other dependency.
    exported = require(module) as Record<string, unknown>;
  } catch (error) {
    throw new PluginLoadError(`${module}: cannot load: ${(error as Error).message}`);
  }
  const candidate = (exported.plugin ?? exported.default) as Partial<QubinodePlugin> | undefined;
  if (candidate === undefined || typeof candidate !== 'object') throw new PluginLoadError(`${module}: exports no \`plugin\` object`);
  if (typeof candidate.name !== 'string' || !/^[a-z][a-z0-9-]*$/.test(candidate.name)) throw new PluginLoadError(`${module}: plugin.name must be a lower-case identifier`);
  if (typeof candidate.description !== 'string') throw new PluginLoadError(`${module}: plugin.description must be a string`);
  for (const hook of ['facts', 'preflight'] as const) {
    if (candidate[hook] !== undefined && typeof candidate[hook] !== 'function') throw new PluginLoadError(`${module}: plugin.${hook} must be a function`);
  }
  return candidate as QubinodePlugin;
}
