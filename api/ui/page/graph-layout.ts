import { graphlib, layout } from '@dagrejs/dagre';

/** What the graph draws per task: its id, the label shown, and the tasks it waits for. */
export interface GraphTask {
  id: string;
  needs?: readonly string[];
}

export interface PlacedNode {
  id: string;
  /** Top-left corner, in SVG units. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PlacedEdge {
  from: string;
  to: string;
  /** SVG path `d` through dagre's points. */
  path: string;
}

export interface GraphLayout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

export const NODE_WIDTH = 200;
export const NODE_HEIGHT = 64;
const MARGIN = 16;

/**
 * Places tasks left to right by their `needs` (dagre, rankdir LR). A need naming a task that is not
 * in the list (a status from an older run, a typo) is left out rather than drawn to nowhere.
 */
export function layoutGraph(tasks: readonly GraphTask[]): GraphLayout {
  const graph = new graphlib.Graph();
  graph.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 56, marginx: MARGIN, marginy: MARGIN });
  graph.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(tasks.map((task) => task.id));
  for (const task of tasks) graph.setNode(task.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  const edges: { from: string; to: string }[] = [];
  for (const task of tasks) {
    for (const need of new Set(task.needs ?? [])) {
      if (!ids.has(need) || need === task.id) continue;
      graph.setEdge(need, task.id);
      edges.push({ from: need, to: task.id });
    }
  }
  layout(graph);
  const nodes = tasks.map((task) => {
    const placed = graph.node(task.id) as { x: number; y: number; width: number; height: number };
    return { id: task.id, x: placed.x - placed.width / 2, y: placed.y - placed.height / 2, width: placed.width, height: placed.height };
  });
  const label = graph.graph() as { width?: number; height?: number };
  return {
    nodes,
    edges: edges.map(({ from, to }) => {
      const points = (graph.edge(from, to) as { points?: { x: number; y: number }[] }).points ?? [];
      return { from, to, path: points.map((point, index) => `${index === 0 ? 'M' : 'L'}${round(point.x)},${round(point.y)}`).join(' ') };
    }),
    width: Math.ceil(label.width ?? 0),
    height: Math.ceil(label.height ?? 0),
  };
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
