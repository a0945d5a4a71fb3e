import { useEffect, useRef } from 'preact/hooks';
import { durationBetween, formatTime, stateClass, STATE_ICON } from './format';
import { useLogTail } from './log-tail';
import type { TaskStatus } from './types';

const FOLLOWED = new Set(['pending', 'running', 'waiting']);

function Analysis(props: { task: TaskStatus }) {
  const { analysis, analysisPending } = props.task;
  if (!analysis) return analysisPending ? <section data-analysis="" class="analysis">analysing...</section> : null;
  return (
    <section data-analysis="" class="analysis" aria-label="AI analysis">
      <h4>AI analysis</h4>
      <p class="analysis-summary">{analysis.summary}</p>
      <p>
        <strong>Likely cause:</strong> {analysis.likelyCause}
      </p>
      {analysis.fixes.length > 0 && (
        <ol class="fixes">
          {analysis.fixes.map((fix, index) => (
            <li key={index}>
              {fix.command && <code>{fix.command}</code>}
              {fix.edit && <span>{fix.edit}</span>} — {fix.why}
            </li>
          ))}
        </ol>
      )}
      <p class="muted">
        {analysis.source === 'rules' ? 'rules' : `${analysis.source === 'rules+model' ? 'rules, worded by ' : ''}model ${analysis.model ?? ''}`.trim()}, confidence {analysis.confidence.toFixed(2)}
        {analysis.category ? `, category ${analysis.category}` : ''}
        {analysisPending ? ' (the rules answered; the model is still writing)' : ''}
      </p>
    </section>
  );
}

/** One task of a run: its facts, error, AI analysis and the tail of its log, following while it runs. */
export function TaskPanel(props: { runId: string; task: TaskStatus; onClose: () => void }) {
  const { task } = props;
  const log = useLogTail(props.runId, task.id, FOLLOWED.has(task.state));
  const logRef = useRef<HTMLPreElement>(null);
  useEffect(() => {
    // Keep the newest lines in view, as `tail -f` does.
    const element = logRef.current;
    if (element) element.scrollTop = element.scrollHeight;
  }, [log.text]);
  return (
    <aside data-panel="task" class="panel" aria-label={`task ${task.id}`}>
      <header class="panel-head">
        <h3>
          {task.name ?? task.id} <span class={`badge ${stateClass(task.state)}`}>{`${STATE_ICON[task.state]} ${task.state}`}</span>
        </h3>
        <button type="button" class="secondary" onClick={props.onClose}>
          Close
        </button>
      </header>
      <dl class="facts">
        <dt>Task</dt>
        <dd>{task.id}</dd>
        <dt>Action</dt>
        <dd>{task.action}</dd>
        <dt>Attempt</dt>
        <dd>{task.attempt}</dd>
        {task.runsOn && (
          <>
            <dt>Runs on</dt>
            <dd>{task.runsOn}</dd>
          </>
        )}
        {task.startedAt && (
          <>
            <dt>Time</dt>
            <dd>
              {formatTime(task.startedAt)} ({durationBetween(task.startedAt, task.endedAt)})
            </dd>
          </>
        )}
        {task.needs && task.needs.length > 0 && (
          <>
            <dt>Needs</dt>
            <dd>{task.needs.join(', ')}</dd>
          </>
        )}
        {(task.reason ?? task.summary) && (
          <>
            <dt>Note</dt>
            <dd>{task.reason ?? task.summary}</dd>
          </>
        )}
      </dl>
      {task.error && (
        <section data-error="" class="error-box" role="alert">
          <strong>{task.error.reportedType ?? task.error.type}</strong>: {task.error.message}
        </section>
      )}
      <Analysis task={task} />
      <h4>Log {FOLLOWED.has(task.state) ? '(following)' : ''}</h4>
      {log.note && <p class="muted">{log.note}</p>}
      <pre data-log="" class="log" ref={logRef} tabIndex={0} aria-label={`log of ${task.id}`}>
        {log.text}
      </pre>
    </aside>
  );
}
