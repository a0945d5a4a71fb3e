import { useState } from 'preact/hooks';
import { ApiError, dagPath, get, post, query } from './api';
import { DagGraph } from './dag-graph';
import { meetsRole } from './format';
import { initialValue, inputKind, paramsFromForm } from './params';
import { usePoll } from './poll';
import { navigate, runHref } from './router';
import { newestFirst, RunsTable } from './runs-page';
import type { CompiledDag, ParamSpec, RunSummary, Session } from './types';

function ParamField(props: { name: string; spec: ParamSpec; value: string | boolean; onChange: (value: string | boolean) => void }) {
  const { name, spec } = props;
  const kind = inputKind(spec);
  const id = `param-${name}`;
  const required = spec.required === true && spec.default === undefined;
  const hint = [spec.type ?? 'string', spec.required ? 'required' : '', spec.secret ? (spec.default !== undefined ? 'secret, has a default' : 'secret') : '', spec.enum ? `one of ${spec.enum.join(', ')}` : '']
    .filter(Boolean)
    .join(', ');
  return (
    <div class={kind === 'checkbox' ? 'field checkbox' : 'field'}>
      <label for={id}>
        {name} <span class="muted">({hint})</span>
      </label>
      {kind === 'checkbox' ? (
        <input id={id} name={name} type="checkbox" checked={props.value === true} onChange={(event) => props.onChange(event.currentTarget.checked)} />
      ) : kind === 'json' ? (
        <textarea id={id} name={name} rows={4} spellcheck={false} value={String(props.value)} onInput={(event) => props.onChange(event.currentTarget.value)} />
      ) : kind === 'number' ? (
        <input id={id} name={name} type="number" step={spec.type === 'integer' ? '1' : 'any'} required={required} value={String(props.value)} onInput={(event) => props.onChange(event.currentTarget.value)} />
      ) : spec.secret ? (
        <input id={id} name={name} type="password" autocomplete="off" required={required} value={String(props.value)} onInput={(event) => props.onChange(event.currentTarget.value)} />
      ) : (
        <input id={id} name={name} type="text" required={required} value={String(props.value)} onInput={(event) => props.onChange(event.currentTarget.value)} />
      )}
      {spec.description && <small class="muted">{spec.description}</small>}
    </div>
  );
}

/** The params form: POST /api/runs, then the new run's page. */
function StartRunForm(props: { dag: CompiledDag }) {
  const specs = props.dag.params;
  const [values, setValues] = useState<Record<string, string | boolean>>(() => Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, initialValue(spec)])));
  const [problems, setProblems] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const submit = async (): Promise<void> => {
    const form = paramsFromForm(specs, values);
    setProblems(form.problems);
    if (form.problems.length > 0) return;
    setBusy(true);
    try {
      const started = await post<{ runId: string }>('/api/runs', { dag: props.dag.catalogId, params: form.params });
      navigate(runHref(started.runId));
    } catch (error) {
      setProblems([(error as Error).message, ...(error instanceof ApiError ? error.problems : [])]);
      setBusy(false);
    }
  };
  return (
    <form
      data-form="start-run"
      class="start-run"
      aria-label={`start a run of ${props.dag.catalogId}`}
      onSubmit={(event) => {
        event.preventDefault();
        void submit();
      }}
    >
      <h3>Start a run</h3>
      {Object.keys(specs).length === 0 && <p class="muted">This DAG takes no params.</p>}
      {Object.entries(specs).map(([name, spec]) => (
        <ParamField key={name} name={name} spec={spec} value={values[name] ?? ''} onChange={(value) => setValues((previous) => ({ ...previous, [name]: value }))} />
      ))}
      {problems.length > 0 && (
        <ul class="error-text" role="alert">
          {problems.map((problem, index) => (
            <li key={index}>{problem}</li>
          ))}
        </ul>
      )}
      <button type="submit" disabled={busy}>
        {busy ? 'Starting…' : 'Start run'}
      </button>
    </form>
  );
}

/** One DAG: its graph, a params form to start it (operators), and its recent runs. */
export function DagPage(props: { dagId: string; session: Session }) {
  const { dagId } = props;
  const dag = usePoll(() => get<CompiledDag>(dagPath(dagId)), dagId, { live: false });
  const runsUrl = `/api/runs${query({ dag: dagId, limit: 20 })}`;
  const runs = usePoll(() => get<RunSummary[]>(runsUrl), runsUrl);
  return (
    <section>
      <h2>
        DAG <code>{dagId}</code>
      </h2>
      {dag.error && <p class="error-text" role="alert">{dag.error.message}</p>}
      {dag.data && (
        <>
          {dag.data.description && <p>{dag.data.description}</p>}
          <p class="muted">
            {dag.data.origin.repo}: {dag.data.origin.path} at <code>{dag.data.origin.commit.slice(0, 12)}</code>
          </p>
          <DagGraph tasks={dag.data.tasks} label={`tasks of ${dagId}`} />
          {meetsRole(props.session.roles, 'operator') ? <StartRunForm key={dagId} dag={dag.data} /> : <p class="muted">Starting a run needs the operator role.</p>}
        </>
      )}
      <h3>Recent runs</h3>
      {runs.error && <p class="error-text">{runs.error.message}</p>}
      {runs.data && <RunsTable runs={[...runs.data].sort(newestFirst)} showDag={false} />}
    </section>
  );
}
