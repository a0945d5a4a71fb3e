import { useState } from 'preact/hooks';
import { get, query } from './api';
import { durationBetween, formatTime, stateClass, STATE_ICON } from './format';
import { usePoll } from './poll';
import { dagHref, Link, runHref } from './router';
import type { DagListEntry, RunSummary, TaskState } from './types';

/** The states a run's QubinodeStatus search attribute takes (`waiting` while an approval gate is open). */
const RUN_STATES = ['running', 'waiting', 'succeeded', 'failed', 'cancelled'] as const;

function icon(state: string): string {
  return Object.prototype.hasOwnProperty.call(STATE_ICON, state) ? STATE_ICON[state as TaskState] : '?';
}

/** Visibility lists running runs before ended ones; the page shows the newest start first. */
export function newestFirst(a: RunSummary, b: RunSummary): number {
  return b.startedAt.localeCompare(a.startedAt);
}

/** A table of runs, newest first; `dag` fixed by a DAG's page. */
export function RunsTable(props: { runs: readonly RunSummary[]; showDag?: boolean }) {
  const showDag = props.showDag ?? true;
  if (props.runs.length === 0) return <p class="muted">No runs match.</p>;
  return (
    <table data-list="runs" class="list">
      <thead>
        <tr>
          <th scope="col">Run</th>
          {showDag && <th scope="col">DAG</th>}
          <th scope="col">State</th>
          <th scope="col">Started</th>
          <th scope="col">Time</th>
          <th scope="col">By</th>
          <th scope="col">Commit</th>
        </tr>
      </thead>
      <tbody>
        {props.runs.map((run) => (
          <tr key={run.runId} data-run-id={run.runId}>
            <td>
              <Link href={runHref(run.runId)}>{run.runId}</Link>
            </td>
            {showDag && (
              <td>
                <Link href={dagHref(run.dagId)}>{run.dagId}</Link>
              </td>
            )}
            <td class={stateClass(run.state)}>
              <span aria-hidden="true">{icon(run.state)} </span>
              <span data-state={run.state}>{run.state}</span>
            </td>
            <td>{formatTime(run.startedAt)}</td>
            <td>{durationBetween(run.startedAt, run.endedAt)}</td>
            <td>{run.startedBy ?? ''}</td>
            <td>
              <code>{run.commit.slice(0, 12)}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Every run, filtered by DAG, repository, state and person; refreshed live. */
export function RunsPage() {
  const [dag, setDag] = useState('');
  const [repo, setRepo] = useState('');
  const [status, setStatus] = useState('');
  const [person, setPerson] = useState('');
  const dags = usePoll(() => get<DagListEntry[]>('/api/dags'), 'dags', { live: false });
  const url = `/api/runs${query({ dag, status, startedBy: person.trim(), limit: 100 })}`;
  const runs = usePoll(() => get<RunSummary[]>(url), url);
  const repos = [...new Set((dags.data ?? []).map((entry) => entry.repo))].sort();
  // The API filters by DAG, state and person; a repository is the first part of a catalog id.
  const shown = (runs.data ?? []).filter((run) => repo === '' || run.dagId.startsWith(`${repo}/`)).sort(newestFirst);
  return (
    <section>
      <h2>Runs</h2>
      <form class="filters" aria-label="filter runs" onSubmit={(event) => event.preventDefault()}>
        <label class="field">
          DAG
          <select name="dag" value={dag} onChange={(event) => setDag(event.currentTarget.value)}>
            <option value="">all</option>
            {(dags.data ?? []).map((entry) => (
              <option key={entry.id} value={entry.id}>
                {entry.id}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          Repository
          <select name="repo" value={repo} onChange={(event) => setRepo(event.currentTarget.value)}>
            <option value="">all</option>
            {repos.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          State
          <select name="state" value={status} onChange={(event) => setStatus(event.currentTarget.value)}>
            <option value="">all</option>
            {RUN_STATES.map((state) => (
              <option key={state} value={state}>
                {state}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          Started by
          <input name="startedBy" maxLength={128} value={person} onChange={(event) => setPerson(event.currentTarget.value)} placeholder="anyone" />
        </label>
      </form>
      {runs.error && <p class="error-text" role="alert">{runs.error.message}</p>}
      {runs.data ? <RunsTable runs={shown} /> : !runs.error && <p>Loading runs…</p>}
    </section>
  );
}
