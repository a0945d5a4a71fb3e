import * as path from 'node:path';
import type { ActionInvocation, ActionResult } from '../dag-repos/actions/action-types';
import type { QubinodeConfig } from '../config/config';
import { PROJECT_ROOT } from '../config/config';
import { ActionRegistry } from '../dag-repos/actions/registry';
import { loadPlugins, PluginLoadError, type PluginSources } from './loader';
import type { QubinodePlugin } from './plugin-api';

type PluginActivity = (invocation: ActionInvocation) => Promise<ActionResult>;

/** Where plugins come from for a configuration: the built-in folder, QUBINODE_PLUGIN_DIRS, installed qubinode-plugin-* packages. */
export function pluginSources(config: Pick<QubinodeConfig, 'pluginDirs'>): PluginSources {
  return { dirs: [__dirname, ...config.pluginDirs], nodeModules: [path.join(PROJECT_ROOT, 'node_modules')] };
}

/** The built-in actions plus every plugin's: what compilers, the CLI and the API accept as `uses:`. */
export function actionRegistryWith(plugins: readonly QubinodePlugin[]): ActionRegistry {
  return new ActionRegistry().extend(plugins.flatMap((plugin) => plugin.actions ?? []));
}

/** Activities of all plugins, checked so that every plugin action has its implementation and no two plugins share a name. */
export function pluginActivities(plugins: readonly QubinodePlugin[]): Record<string, PluginActivity> {
  const activities: Record<string, PluginActivity> = {};
  for (const plugin of plugins) {
    for (const [name, activity] of Object.entries(plugin.activities ?? {})) {
      if (activities[name]) throw new PluginLoadError(`plugin ${plugin.name}: activity "${name}" is already registered by another plugin`);
      activities[name] = activity;
    }
    for (const action of plugin.actions ?? []) {
      if (action.execution.kind === 'activity' && !(plugin.activities ?? {})[action.execution.activity]) {
        throw new PluginLoadError(`plugin ${plugin.name}: action "${action.name}" names activity "${action.execution.activity}", which the plugin does not provide`);
      }
    }
  }
  return activities;
}

/** Plugins for a configuration, loaded once per process by the caller. */
export function loadConfiguredPlugins(config: Pick<QubinodeConfig, 'pluginDirs'>): QubinodePlugin[] {
  return loadPlugins(pluginSources(config));
}
