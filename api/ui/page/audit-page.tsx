import { useState } from 'preact/hooks';
import { get, query } from './api';
import { formatTime } from './format';
import { usePoll } from './poll';
import type { AuditEntry } from './types';

/** Who did what (admin only): the audit log, newest first, filtered by person and action. */
export function AuditPage() {
  const [user, setUser] = useState('');
  const [action, setAction] = useState('');
  const url = `/api/audit${query({ user: user.trim(), action: action.trim(), limit: 200 })}`;
  const entries = usePoll(() => get<AuditEntry[]>(url), url, { intervalMs: 5000 });
  return (
    <section>
      <h2>Audit</h2>
      <form class="filters" aria-label="filter the audit log" onSubmit={(event) => event.preventDefault()}>
        <label class="field">
          Person
          <input name="user" maxLength={128} value={user} onChange={(event) => setUser(event.currentTarget.value)} placeholder="anyone" />
        </label>
        <label class="field">
          Action
          <input name="action" maxLength={64} value={action} onChange={(event) => setAction(event.currentTarget.value)} placeholder="e.g. run.start" />
        </label>
      </form>
      {entries.error && <p class="error-text" role="alert">{entries.error.message}</p>}
      {entries.data && (
        <table data-list="audit" class="list">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Who</th>
              <th scope="col">Via</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Outcome</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {entries.data.map((entry, index) => (
              <tr key={`${entry.at}-${index}`}>
                <td>{formatTime(entry.at)}</td>
                <td>
                  {entry.actor}
                  {entry.onBehalfOf ? ` for ${entry.onBehalfOf}` : ''}
                </td>
                <td>{entry.via}</td>
                <td>{entry.action}</td>
                <td>
                  <code>{entry.target}</code>
                </td>
                <td class={`outcome-${entry.outcome === 'ok' ? 'ok' : 'other'}`}>{entry.outcome}</td>
                <td>{entry.detail ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
