import { useId, useMemo } from 'preact/hooks';
import { durationBetween, stateClass, STATE_ICON } from './format';
import { layoutGraph } from './graph-layout';
import type { TaskState } from './types';

/** A task as the graph draws it; state and timing are absent on a DAG's page (no run yet). */
export interface GraphNode {
  id: string;
  name?: string;
  action?: string;
  needs?: readonly string[];
  state?: TaskState;
  attempt?: number;
  startedAt?: string;
  endedAt?: string;
  runsOn?: string;
}

const MAX_LABEL = 24;

function clip(text: string, max = MAX_LABEL): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function detailLine(node: GraphNode): string {
  const parts = [node.attempt && node.attempt > 1 ? `attempt ${node.attempt}` : '', node.runsOn ? `on ${node.runsOn}` : node.action ?? ''];
  return clip(parts.filter(Boolean).join(' · '), 30);
}

/**
 * The DAG drawn left to right (dagre), one `g[data-task-id][data-state]` per task. The layout is
 * computed again only when the tasks or their edges change, so live state updates keep nodes in place.
 */
export function DagGraph(props: { tasks: readonly GraphNode[]; selected?: string; onSelect?: (taskId: string) => void; label: string; scale?: number }) {
  const shape = props.tasks.map((task) => `${task.id}<${(task.needs ?? []).join(',')}`).join('|');
  // Keyed by the shape alone: a state change must not move the nodes.
  const placed = useMemo(() => layoutGraph(props.tasks), [shape]);
  const byId = new Map(props.tasks.map((task) => [task.id, task]));
  const now = Date.now();
  const scale = props.scale ?? 1;
  // Several graphs share a page (the catalog): each arrow head has an id of its own.
  const arrow = `arrow-${useId()}`;
  return (
    <div class={scale < 1 ? 'graph-thumb' : 'graph-scroll'}>
      <svg data-graph="" class="graph" role="group" aria-label={props.label} width={Math.ceil(placed.width * scale)} height={Math.ceil(placed.height * scale)} viewBox={`0 0 ${placed.width} ${placed.height}`}>
        <defs>
          <marker id={arrow} viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head" />
          </marker>
        </defs>
        {placed.edges.map((edge) => (
          <path key={`${edge.from}->${edge.to}`} d={edge.path} class="edge" marker-end={`url(#${arrow})`} />
        ))}
        {placed.nodes.map((placedNode) => {
          const task = byId.get(placedNode.id);
          if (!task) return null;
          const state = task.state;
          const title = task.name ?? task.id;
          const duration = durationBetween(task.startedAt, task.endedAt, now);
          const selected = props.selected === task.id;
          const select = props.onSelect;
          return (
            <g
              key={task.id}
              data-task-id={task.id}
              data-state={state}
              class={`node ${state ? stateClass(state) : 'state-none'}${selected ? ' selected' : ''}`}
              transform={`translate(${placedNode.x},${placedNode.y})`}
              {...(select
                ? {
                    role: 'button',
                    tabIndex: 0,
                    'aria-pressed': selected,
                    'aria-label': `${title}: ${state ?? 'task'}${duration ? `, ${duration}` : ''}`,
                    onClick: () => select(task.id),
                    onKeyDown: (event: KeyboardEvent) => {
                      if (event.key !== 'Enter' && event.key !== ' ') return;
                      event.preventDefault();
                      select(task.id);
                    },
                  }
                : {})}
            >
              <title>{`${title}${task.name ? ` (${task.id})` : ''}${state ? ` — ${state}` : ''}`}</title>
              <rect width={placedNode.width} height={placedNode.height} rx="8" ry="8" />
              <text x="12" y="20" class="node-title">
                {clip(title)}
              </text>
              <text x="12" y="38" class="node-state">
                {state ? `${STATE_ICON[state]} ${state}${duration ? ` · ${duration}` : ''}` : clip(task.action ?? '', 30)}
              </text>
              <text x="12" y="54" class="node-detail">
                {state ? detailLine(task) : task.runsOn ? clip(`on ${task.runsOn}`, 30) : ''}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
