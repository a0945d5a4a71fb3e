import { get } from './api';
import { usePoll } from './poll';
import { dagHref, Link } from './router';
import type { DagListEntry } from './types';

/** The DAG catalog: every DAG of every repository, with its tasks and params. */
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
