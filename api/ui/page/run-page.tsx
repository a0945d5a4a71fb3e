import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, post, runPath } from './api';
import { DagGraph } from './dag-graph';
import { durationBetween, formatTime, isWebUrl, meetsRole, stateClass, stateLabel, temporalRunUrl } from './format';
import { usePoll } from './poll';
import { dagHref, Link, navigate, runHref } from './router';
import { TaskPanel } from './task-panel';
import type { ApprovalRecord, RunStatus, Session } from './types';

/** Runs a write and reports its outcome; the buttons stay disabled while it is on its way. */
function useAction(after: () => void) {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string }>();
  const act = async (label: string, write: () => Promise<unknown>): Promise<void> => {
    setBusy(true);
    setMessage(undefined);
    try {
      await write();
      setMessage({ ok: true, text: `${label}: done` });
    } catch (error) {
      const problems = error instanceof ApiError && error.problems.length > 0 ? ` (${error.problems.join('; ')})` : '';
      setMessage({ ok: false, text: `${label}: ${(error as Error).message}${problems}` });
    } finally {
      setBusy(false);
      after();
    }
  };
  return { busy, message, act };
}

function Approvals(props: { run: RunStatus; session: Session; reload: () => void }) {
  const waiting = (props.run.approvals ?? []).filter((gate) => gate.state === 'waiting');
  const { busy, message, act } = useAction(props.reload);
  const [comment, setComment] = useState('');
  if (waiting.length === 0) return null;
  const mayDecide = meetsRole(props.session.roles, 'approver');
  const decide = (gate: ApprovalRecord, decision: 'approve' | 'reject'): void =>
    void act(`${decision} ${gate.taskId}`, () => post('/api/approvals', { run: props.run.runId, task: gate.taskId, decision, ...(comment.trim() ? { comment: comment.trim() } : {}) }));
  return (
    <section class="approvals" aria-label="approvals waiting">
      <h3>Waiting for approval</h3>
      {waiting.map((gate) => (
        <div key={gate.taskId} class="gate">
          <p>
            <strong>{gate.taskId}</strong>
            {gate.message ? `: ${gate.message}` : ''} <span class="muted">(asked {formatTime(gate.requestedAt)}{gate.approvers.length > 0 ? `; approvers ${gate.approvers.join(', ')}` : ''})</span>
          </p>
          {mayDecide ? (
            <div class="buttons">
              <button type="button" data-action="approve" disabled={busy} onClick={() => decide(gate, 'approve')}>
                Approve
              </button>
              <button type="button" data-action="reject" class="danger" disabled={busy} onClick={() => decide(gate, 'reject')}>
                Reject
              </button>
            </div>
          ) : (
            <p class="muted">An approver decides this gate.</p>
          )}
        </div>
      ))}
      {mayDecide && (
        <label class="field">
          Comment (optional)
          <input name="comment" maxLength={2000} value={comment} onInput={(event) => setComment(event.currentTarget.value)} />
        </label>
      )}
      {message && <p class={message.ok ? 'ok' : 'error-text'} role="status">{message.text}</p>}
    </section>
  );
}

function Controls(props: { run: RunStatus; session: Session; reload: () => void }) {
  const { run } = props;
  const { busy, message, act } = useAction(props.reload);
  const running = run.state === 'running';
  const ended = run.state === 'failed' || run.state === 'cancelled';
  if (!meetsRole(props.session.roles, 'operator') || (!running && !ended && !message)) return null;
  const retry = async (): Promise<void> => {
    const started = await post<{ runId: string }>('/api/retries', { run: run.runId });
    navigate(runHref(started.runId));
  };
  return (
    <div class="controls">
      <div class="buttons">
        {running && (
          <button type="button" data-action="cancel" disabled={busy} onClick={() => void act('cancel', () => post(`${runPath(run.runId)}/cancel`))}>
            Cancel
          </button>
        )}
        {running && (
          <button type="button" data-action="abort" class="danger" disabled={busy} onClick={() => void act('abort', () => post('/api/aborts', { run: run.runId }))}>
            Abort (and roll back)
          </button>
        )}
        {ended && (
          <button type="button" data-action="retry" disabled={busy} onClick={() => void act('retry', retry)}>
            Retry
          </button>
        )}
        {ended && (
          <button type="button" data-action="rollback" class="danger" disabled={busy} onClick={() => void act('rollback', () => post('/api/rollbacks', { run: run.runId }))}>
            Roll back
          </button>
        )}
      </div>
      {message && <p class={message.ok ? 'ok' : 'error-text'} role="status">{message.text}</p>}
    </div>
  );
}

/** One run: its state, the DAG graph with each task's live state, the chosen task's panel, and what an operator may do. */
export function RunPage(props: { runId: string; session: Session }) {
  const { runId, session } = props;
  const [ended, setEnded] = useState(false);
  const polled = usePoll(() => get<RunStatus>(runPath(runId)), runId, { live: !ended });
  const [selected, setSelected] = useState<string>();
  const run = polled.data;
  // An ended run is read again only while an AI analysis or a rollback is still on its way.
  const settled = run !== undefined && run.state !== 'running' && run.rollback?.state !== 'running' && !run.tasks.some((task) => task.analysisPending);
  useEffect(() => setEnded(settled), [settled]);
  if (!run) return <section>{polled.error ? <p class="error-text" role="alert">{polled.error.message}</p> : <p>Loading run…</p>}</section>;
  const task = run.tasks.find((candidate) => candidate.id === selected);
  const temporal = session.temporal && isWebUrl(session.temporal.uiUrl) ? temporalRunUrl(session.temporal, run.runId) : undefined;
  return (
    <section class="run">
      <header class="page-head">
        <h2>
          Run <code>{run.runId}</code>
        </h2>
        <p>
          <span data-run-state={run.state} class={`badge ${stateClass(run.state)}`}>
            {stateLabel(run.state)}
          </span>{' '}
          {run.progress.done}/{run.progress.total} tasks done · started {formatTime(run.startedAt)} · {durationBetween(run.startedAt, run.endedAt)}
        </p>
        <p class="muted">
          DAG <Link href={dagHref(run.dagId)}>{run.dagId}</Link> · repo {run.repo} · commit <code>{run.commit.slice(0, 12)}</code>
          {run.retryOf && (
            <>
              {' '}
              · retry of <Link href={runHref(run.retryOf)}>{run.retryOf}</Link>
            </>
          )}
          {temporal && (
            <>
              {' '}
              ·{' '}
              <a data-temporal-link="" href={temporal} target="_blank" rel="noopener noreferrer">
                Open in Temporal Web UI
              </a>
            </>
          )}
        </p>
        {run.reason && <p class="muted">Reason: {run.reason}</p>}
        {Object.keys(run.params).length > 0 && (
          <details class="params">
            <summary>Params ({Object.keys(run.params).length})</summary>
            <dl class="facts">
              {Object.entries(run.params).map(([name, value]) => (
                <Fragment key={name}>
                  <dt>{name}</dt>
                  <dd>
                    <code>{typeof value === 'string' ? value : JSON.stringify(value)}</code>
                  </dd>
                </Fragment>
              ))}
            </dl>
          </details>
        )}
        {run.waitingForWindow && <p class="notice">Waiting for the maintenance window (opens {formatTime(run.waitingForWindow)}).</p>}
        {run.waitingForHost && <p class="notice">Waiting for host {run.waitingForHost.host}{run.waitingForHost.heldBy ? ` (held by ${run.waitingForHost.heldBy})` : ''}.</p>}
        {run.rollback && <p class="notice">Rollback: {run.rollback.state}</p>}
        {polled.error && <p class="error-text" role="alert">Live update failed: {polled.error.message}</p>}
      </header>
      <Approvals run={run} session={session} reload={polled.reload} />
      <Controls run={run} session={session} reload={polled.reload} />
      <div class={task ? 'run-body with-panel' : 'run-body'}>
        <DagGraph tasks={run.tasks} selected={selected} onSelect={(id) => setSelected(id === selected ? undefined : id)} label={`tasks of ${run.dagId}; choose a task to see its log`} />
        {task && <TaskPanel key={task.id} runId={run.runId} task={task} onClose={() => setSelected(undefined)} />}
      </div>
    </section>
  );
}
