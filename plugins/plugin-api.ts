import type { ActionInvocation, ActionResult } from '../dag-repos/actions/action-types';
import type { ActionDefinition } from '../dag-repos/actions/action-definition';

/**
 * The plugin interface. A plugin contributes any of: facts about a host, preflight checks over
 * those facts, extra `uses:` actions, and DAG templates. Plugins are installed code (this folder or
 * npm packages named `qubinode-plugin-*`); DAG repositories can only call what they register.
 */
export interface QubinodePlugin {
  /** Unique name, e.g. "os" or "environment". Facts land under this key. */
  name: string;
  description: string;
  /** Facts about the host (or the disk image at `ctx.root`). Must not throw for missing files. */
  facts?(ctx: FactContext): Promise<Record<string, unknown>> | Record<string, unknown>;
  /** Checks over all gathered facts; an `error` stops a DAG's preflight. */
  preflight?(facts: HostFacts): PreflightCheck[];
  /** Extra actions DAGs may `uses:`; each names the activity that carries it out. */
  actions?: readonly ActionDefinition[];
  /** Implementations of the activities the plugin's actions name; every worker that loads the plugin registers them. */
  activities?: Readonly<Record<string, (invocation: ActionInvocation) => Promise<ActionResult>>>;
  /** DAG files this plugin offers as starting points (absolute paths). */
  dagTemplates?: readonly DagTemplate[];
}

/** Where facts are read from: `/` for this host, or a mounted image/fixture directory. */
export interface FactContext {
  root: string;
  /** Reads `rel` (e.g. "etc/os-release") under root; undefined when absent or unreadable. */
  readFile(rel: string): string | undefined;
  /** Entries of a directory under root; [] when absent. */
  listDir(rel: string): string[];
  env: NodeJS.ProcessEnv;
}

/** Facts of every plugin, keyed by plugin name. */
export type HostFacts = Record<string, Record<string, unknown>>;

export interface PreflightCheck {
  /** Stable id, e.g. "os.supported" or "cpu.x86_64-v3". */
  id: string;
  ok: boolean;
  /** error: the DAG cannot proceed; warning: it can, but the operator should know. */
  severity: 'error' | 'warning';
  /** What was found and, when not ok, what to do. */
  message: string;
}

export interface DagTemplate {
  id: string;
  description: string;
  path: string;
}
