import type { CompiledTask } from '../dag-repos/compiler/compiled-dag';
import { conditionExpression } from '../dag-repos/compiler/expression-checks';
import { collectReferences, collectValueReferences } from '../dag-repos/expressions';

/** The tasks a task's expressions read by name, or 'all' when one reads the `tasks` root as a whole. */
export type TaskReads = ReadonlySet<string> | 'all';

/**
 * Which entries of the `tasks` root the expressions of `task` (with, runsOn, when, forEach) can reach.
 * `tasks.build.outputs` names `build`; `tasks`, `tasks[item]` or `keys(tasks)` reach any task, so they
 * get all. A template that does not parse gets all too: rendering it fails the same way either way.
 */
export function readsOf(task: CompiledTask): TaskReads {
  const paths: string[][] = [];
  try {
    paths.push(...collectValueReferences([task.with, task.runsOn ?? null]));
    for (const condition of [task.when, task.forEach]) {
      if (typeof condition === 'string') paths.push(...collectReferences(conditionExpression(condition).expr));
      else if (condition !== undefined) paths.push(...collectValueReferences(condition));
    }
  } catch {
    return 'all';
  }
  const names = new Set<string>();
  for (const [root, name] of paths) {
    if (root !== 'tasks') continue;
    if (name === undefined) return 'all';
    names.add(name);
  }
  return names;
}
