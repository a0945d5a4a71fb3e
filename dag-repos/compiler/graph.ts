/** Graph checks over `needs` edges: cycle detection and a stable topological order. */

export interface GraphNode {
  id: string;
  needs: readonly string[];
}

/** Every elementary cycle found by DFS, each listed upstream-first and closed: `a -> b -> c -> a`. */
export function findCycles(nodes: readonly GraphNode[]): string[][] {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();

  const visit = (id: string): void => {
    state.set(id, 'visiting');
    stack.push(id);
    for (const upstream of byId.get(id)?.needs ?? []) {
      if (!byId.has(upstream)) continue;
      const upstreamState = state.get(upstream);
      if (upstreamState === 'visiting') {
        const cycle = stack.slice(stack.indexOf(upstream)).reverse();
        const key = [...cycle].sort().join('|');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push([...cycle, cycle[0] ?? upstream]);
        }
      } else if (upstreamState === undefined) {
        visit(upstream);
      }
    }
    stack.pop();
    state.set(id, 'done');
  };

  for (const node of nodes) if (!state.has(node.id)) visit(node.id);
  return cycles;
}

/** Kahn's algorithm, keeping file order among tasks that are ready together. Assumes no cycles. */
export function topologicalOrder(nodes: readonly GraphNode[]): string[] {
  const remaining = new Map(nodes.map((node) => [node.id, new Set(node.needs)]));
  const order: string[] = [];
  while (remaining.size > 0) {
    const ready = nodes.filter((node) => remaining.get(node.id)?.size === 0).map((node) => node.id);
    if (ready.length === 0) throw new Error(`cycle among ${[...remaining.keys()].join(', ')}`);
    for (const id of ready) {
      remaining.delete(id);
      order.push(id);
    }
    for (const upstreams of remaining.values()) for (const id of ready) upstreams.delete(id);
  }
  return order;
}

/** Every task reachable upstream of `id` through needs. */
export function ancestorsOf(id: string, nodes: readonly GraphNode[]): Set<string> {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const result = new Set<string>();
  const pending = [...(byId.get(id)?.needs ?? [])];
  while (pending.length > 0) {
    const next = pending.pop() as string;
    if (result.has(next)) continue;
    result.add(next);
    pending.push(...(byId.get(next)?.needs ?? []));
  }
  return result;
}
