import { useState } from 'preact/hooks';
import { get, query } from './api';
import { formatMs, formatTime } from './format';
import { usePoll } from './poll';
import type { RunStats } from './types';

const WINDOWS = ['24h', '7d', '2w', '30d'] as const;

function tally(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([name, count]) => `${name} ${count}`)
    .join(', ');
}

/** Run analytics per DAG from Temporal visibility: success rate, p50/p95 duration, failure categories. */
export function StatsPage() {
  const [since, setSince] = useState<string>('7d');
  const url = `/api/stats${query({ since })}`;
  // The API keeps one reading for 30 s: reading it more often would show nothing new.
  const stats = usePoll(() => get<RunStats>(url), url, { intervalMs: 30_000 });
  return (
    <section>
      <h2>Run analytics</h2>
      <form class="filters" aria-label="analytics window" onSubmit={(event) => event.preventDefault()}>
        <label class="field">
          Since
          <select name="since" value={since} onChange={(event) => setSince(event.currentTarget.value)}>
            {WINDOWS.map((window) => (
              <option key={window} value={window}>
                last {window}
              </option>
            ))}
          </select>
        </label>
      </form>
      {stats.error && <p class="error-text" role="alert">{stats.error.message}</p>}
      {!stats.data && !stats.error && <p>Reading the runs of the window…</p>}
      {stats.data && (
        <>
          <p class="muted">
            {formatTime(stats.data.since)} to {formatTime(stats.data.until)}: {stats.data.scanned} runs read{stats.data.complete ? '' : ' (the newest only: more matched)'}
          </p>
          <table data-list="stats" class="list">
            <thead>
              <tr>
                <th scope="col">DAG</th>
                <th scope="col">Runs</th>
                <th scope="col">Succeeded</th>
                <th scope="col">Failed</th>
                <th scope="col">Cancelled</th>
                <th scope="col">Running</th>
                <th scope="col">Success rate</th>
                <th scope="col">p50</th>
                <th scope="col">p95</th>
                <th scope="col">Failures by cause</th>
              </tr>
            </thead>
            <tbody>
              {stats.data.dags.map((dag) => (
                <tr key={dag.dag}>
                  <td>{dag.dag}</td>
                  <td>{dag.runs}</td>
                  <td>{dag.succeeded}</td>
                  <td>{dag.failed}</td>
                  <td>{dag.cancelled}</td>
                  <td>{dag.running}</td>
                  <td>{dag.successRate === null ? '–' : `${(dag.successRate * 100).toFixed(1)}%`}</td>
                  <td>{dag.durationMs.p50 === null ? '–' : formatMs(dag.durationMs.p50)}</td>
                  <td>{dag.durationMs.p95 === null ? '–' : formatMs(dag.durationMs.p95)}</td>
                  <td>{tally(Object.keys(dag.categories).length > 0 ? dag.categories : dag.errorTypes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
