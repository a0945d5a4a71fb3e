import { get } from './api';
import { DagGraph } from './dag-graph';
import { usePoll } from './poll';
import { dagHref, Link } from './router';
import type { DagListEntry } from './types';

/** Larger DAGs get their graph on their own page only: a catalog of many big graphs would be slow to lay out. */
const THUMBNAIL_MAX_TASKS = 60;
const THUMBNAIL_SCALE = 0.35;

function DagThumbnail(props: { entry: DagListEntry }) {
  const { entry } = props;
  if (entry.tasks.length === 0 || entry.tasks.length > THUMBNAIL_MAX_TASKS) return null;
  return <DagGraph tasks={entry.tasks.map((id) => ({ id, needs: entry.needs?.[id] ?? [] }))} label={`graph of ${entry.id}`} scale={THUMBNAIL_SCALE} />;
}

/** The DAG catalog: every DAG of every repository, with its graph, tasks and params. */
export function DagsPage() {
  const dags = usePoll(() => get<DagListEntry[]>('/api/dags'), 'dags', { intervalMs: 10_000 });
  return (
    <section>
      <h2>DAGs</h2>
      {dags.error && <p class="error-text" role="alert">{dags.error.message}</p>}
      {!dags.data ? (
        !dags.error && <p>Loading the catalog…</p>
      ) : dags.data.length === 0 ? (
        <p class="muted">No DAGs in the catalog.</p>
      ) : (
        <table data-list="dags" class="list">
          <thead>
            <tr>
              <th scope="col">DAG</th>
              <th scope="col">Graph</th>
              <th scope="col">Description</th>
              <th scope="col">Tasks</th>
              <th scope="col">Params</th>
              <th scope="col">Commit</th>
            </tr>
          </thead>
          <tbody>
            {dags.data.map((entry) => (
              <tr key={entry.id} data-dag-id={entry.id}>
                <td>
                  <Link href={dagHref(entry.id)}>{entry.id}</Link>
                </td>
                <td>
                  <DagThumbnail entry={entry} />
                </td>
                <td>{entry.description}</td>
                <td>{entry.tasks.length === 0 ? <span class="error-text">does not compile</span> : `${entry.tasks.length} (${entry.tasks.join(', ')})`}</td>
                <td>{Object.keys(entry.params).join(', ')}</td>
                <td>
                  <code>{entry.commit.slice(0, 12)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
