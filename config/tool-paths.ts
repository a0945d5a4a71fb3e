import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from './config';
import { waitForToolInstall, type ToolWaitOptions } from './tool-install';

/** The project-local venv that `infra/setup.sh` fills with the pinned Python tools. */
export const TOOLS_BIN = path.join(PROJECT_ROOT, '.tools', 'venv', 'bin');

/**
 * Where a tool is: the project venv first (pinned versions), then PATH. Returns undefined when absent.
 * The venv wins so a distro-installed ansible of another version never runs by accident.
 */
export function findTool(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const local = path.join(TOOLS_BIN, name);
  if (existsSync(local)) return local;
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** PATH for child processes: the venv first, so ansible-navigator finds the pinned ansible-playbook. */
export function toolPath(env: NodeJS.ProcessEnv = process.env): string {
  return [TOOLS_BIN, env.PATH ?? '/usr/local/bin:/usr/bin:/bin'].join(path.delimiter);
}

/**
 * Where a tool is, once the background install `npm start` began has brought it (config/tool-install.ts):
 * a task needing ansible-navigator on a first run waits for it instead of failing. Undefined when absent.
 */
export async function findToolWhenInstalled(name: string, options: ToolWaitOptions = {}): Promise<string | undefined> {
  await waitForToolInstall(name, options);
  return findTool(name);
}
