import type { CompiledDag } from './compiled-dag';

function label(task: CompiledDag['tasks'][number]): string {
  const extras = [task.forEach !== undefined ? 'forEach' : '', task.trigger !== 'all_success' ? task.trigger : '', task.when !== undefined ? 'when' : '', task.runsOn ? `on ${task.runsOn}` : '']
    .filter(Boolean)
    .join(', ');
  return `${task.id} (${task.action}${extras ? `; ${extras}` : ''})`;
}

/** The DAG as indented text: each task under the tasks it needs, in topological layers. */
export function renderGraphText(dag: CompiledDag): string {
  const layer = new Map<string, number>();
  for (const task of dag.tasks) layer.set(task.id, Math.max(0, ...task.needs.map((need) => (layer.get(need) ?? 0) + 1)));
  const lines = [`${dag.catalogId}${dag.description ? ` — ${dag.description}` : ''}`];
  const depth = Math.max(0, ...layer.values());
  for (let level = 0; level <= depth; level += 1) {
    lines.push(`stage ${level + 1}:`);
    for (const task of dag.tasks.filter((candidate) => layer.get(candidate.id) === level)) {
      lines.push(`  ${label(task)}${task.needs.length ? `  <- ${task.needs.join(', ')}` : ''}`);
    }
  }
  return lines.join('\n');
}

function mermaidId(id: string): string {
  return `t_${id.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** Mermaid flowchart source; dashed edges for trigger rules that run on failure. */
export function renderGraphMermaid(dag: CompiledDag): string {
  const lines = ['flowchart TD'];
  for (const task of dag.tasks) {
    const text = label(task).replace(/"/g, "'");
    lines.push(`  ${mermaidId(task.id)}["${text}"]`);
  }
  for (const task of dag.tasks) {
    const arrow = task.trigger === 'all_success' || task.trigger === 'none_failed' ? '-->' : '-.->';
    for (const need of task.needs) lines.push(`  ${mermaidId(need)} ${arrow} ${mermaidId(task.id)}`);
  }
  return lines.join('\n');
}
