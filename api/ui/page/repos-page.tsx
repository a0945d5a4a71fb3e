import { useState } from 'preact/hooks';
import { get, post } from './api';
import { formatTime, meetsRole } from './format';
import { usePoll } from './poll';
import type { RepoView, Session, WebhookDelivery } from './types';

const SYNC_STATE_LABEL = { accepted: '✔ accepted', rejected: '✖ rejected', unchanged: '○ unchanged' } as const;

/** The last webhook deliveries: the first place to look when a push did not sync. */
function Deliveries(props: { deliveries: WebhookDelivery[] }) {
  const { deliveries } = props;
  const refused = deliveries.filter((delivery) => delivery.status >= 400).length;
  return (
    <details open={refused > 0}>
      <summary>
        Webhook deliveries: {deliveries.length}
        {refused > 0 ? ` (${refused} refused)` : ''}
      </summary>
      {deliveries.length > 0 ? (
        <table class="list" data-list="deliveries">
          <thead>
            <tr>
              <th scope="col">Received</th>
              <th scope="col">Forge</th>
              <th scope="col">Event</th>
              <th scope="col">Answer</th>
              <th scope="col">Commit</th>
              <th scope="col">Delivery</th>
            </tr>
          </thead>
          <tbody>
            {deliveries.map((delivery, index) => (
              <tr key={`${delivery.at}-${index}`} data-outcome={delivery.outcome}>
                <td>{formatTime(delivery.at)}</td>
                <td>{delivery.forge}</td>
                <td>{delivery.event ?? '—'}</td>
                <td>
                  {delivery.status} {delivery.outcome.replaceAll('_', ' ')}
                </td>
                <td>{delivery.commit ? <code>{delivery.commit.slice(0, 12)}</code> : '—'}</td>
                <td>{delivery.deliveryId ? <code>{delivery.deliveryId}</code> : '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p class="muted">None since the API started (deliveries are kept in its memory, the last 50 per repository).</p>
      )}
    </details>
  );
}

function Repo(props: { repo: RepoView; mayOperate: boolean; reload: () => void }) {
  const { repo } = props;
  const [note, setNote] = useState<string>();
  const [busy, setBusy] = useState(false);
  const last = repo.lastSync;
  const findings = last?.findings ?? [];
  const sync = async (): Promise<void> => {
    setBusy(true);
    setNote(undefined);
    try {
      const record = await post<{ state: string; commit: string }>(`/api/repos/${encodeURIComponent(repo.config.name)}/sync`);
      setNote(`synced: ${record.state} ${record.commit.slice(0, 12)}`);
    } catch (error) {
      setNote(`sync failed: ${(error as Error).message}`);
    } finally {
      setBusy(false);
      props.reload();
    }
  };
  return (
    <article class="repo" data-repo={repo.config.name}>
      <header class="panel-head">
        <h3>{repo.config.name}</h3>
        {props.mayOperate && (
          <button type="button" data-action="sync" disabled={busy || repo.syncing} onClick={() => void sync()}>
            {repo.syncing || busy ? 'Syncing…' : 'Sync now'}
          </button>
        )}
      </header>
      <dl class="facts">
        <dt>URL</dt>
        <dd>
          <code>{repo.config.url}</code>
          {repo.config.branch ? ` (${repo.config.branch})` : ''}
        </dd>
        <dt>Live commit</dt>
        <dd>{repo.active ? <><code>{repo.active.commit.slice(0, 12)}</code> since {formatTime(repo.active.syncedAt)}, {repo.active.dags.length} DAGs</> : 'none yet'}</dd>
        <dt>Last sync</dt>
        <dd>
          {last ? (
            <>
              {SYNC_STATE_LABEL[last.state]} <code>{last.commit.slice(0, 12)}</code> at {formatTime(last.at)}
              {last.reason ? ` — ${last.reason}` : ''}
              {last.message ? <span class="muted"> “{last.message}”</span> : null}
            </>
          ) : (
            'never'
          )}
          {repo.syncing ? ' (syncing now)' : repo.pending ? ' (a sync is queued)' : ''}
        </dd>
      </dl>
      {note && <p role="status">{note}</p>}
      {last && last.errors.length > 0 && (
        <details open>
          <summary>{last.errors.length} file(s) with problems</summary>
          <ul>
            {last.errors.map((error) => (
              <li key={error.file}>
                <code>{error.file}</code>
                <ul>
                  {error.problems.map((problem, index) => (
                    <li key={index}>{problem}</li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        </details>
      )}
      <Deliveries deliveries={repo.deliveries ?? []} />
      <details open={findings.some((finding) => finding.severity === 'high' && !finding.allowedBecause)}>
        <summary>Scanner findings: {findings.length}</summary>
        {findings.length > 0 && (
          <table class="list" data-list="findings">
            <thead>
              <tr>
                <th scope="col">Severity</th>
                <th scope="col">Rule</th>
                <th scope="col">Where</th>
                <th scope="col">Finding</th>
              </tr>
            </thead>
            <tbody>
              {findings.map((finding, index) => (
                <tr key={index} class={`severity-${finding.severity === 'high' ? 'high' : 'other'}`}>
                  <td>{finding.severity}</td>
                  <td>{finding.rule}</td>
                  <td>
                    <code>
                      {finding.file}:{finding.line}:{finding.column}
                    </code>
                    {finding.task ? ` (task ${finding.task})` : ''}
                  </td>
                  <td>
                    {finding.message}
                    {finding.allowedBecause ? <span class="muted"> — allowed: {finding.allowedBecause}</span> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </details>
    </article>
  );
}

/** Registered Git repositories: live commit, last sync, the last webhook deliveries and what the scanner found. */
export function ReposPage(props: { session: Session }) {
  const repos = usePoll(() => get<RepoView[]>('/api/repos'), 'repos', { intervalMs: 5000 });
  const mayOperate = meetsRole(props.session.roles, 'operator');
  return (
    <section>
      <h2>Repositories</h2>
      {repos.error && <p class="error-text" role="alert">{repos.error.message}</p>}
      {repos.data && repos.data.length === 0 && <p class="muted">No repositories registered (qubinode repo add).</p>}
      {repos.data?.map((repo) => <Repo key={repo.config.name} repo={repo} mayOperate={mayOperate} reload={repos.reload} />)}
      {!repos.data && !repos.error && <p>Loading repositories…</p>}
    </section>
  );
}
