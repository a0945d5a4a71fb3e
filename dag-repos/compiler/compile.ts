import type { ActionDefinition, ActionRegistry } from '../actions/registry';
import { DagCallInput } from '../actions/builtin-inputs';
import { DagSpec, type TaskSpec } from '../schema/dag-spec';
import { parseDuration } from '../schema/duration';
import { linearRegexProblem } from '../schema/linear-regex';
import { checkParamValue } from '../schema/params';
import type { CompiledActionCall, CompiledDag, CompiledTask, RetryPlan } from './compiled-dag';
import { DagValidationError, type DagDiagnostic, type DiagnosticCode } from './diagnostics';
import { ancestorsOf, findCycles, topologicalOrder } from './graph';
import { checkExpressions, isTemplated } from './expression-checks';
import { withSecretRefs } from './secret-references';
import type { StringSpot } from './script-expressions';
import { valuesAsData } from './values-as-data';
import { limitDiagnostics, parseDagText } from './parse-limits';
import { pinRolloutActions } from './rollout-actions';
import { historyBudgetProblems } from './history-budget';
import { claimsSecretUri } from '../schema/secret-uri';
import { displayPath, locate, locateInString, type DocPath, type YamlSource } from './source-map';
import { didYouMean } from '../schema/suggest';
import { shapeProblems } from './zod-issues';

/** One DAG file as read from a repository at a commit. */
export interface DagFile {
  repo: string;
  /** Path inside the repository; also what error messages print. */
  path: string;
  commit: string;
  text: string;
}

export interface CompileContext {
  registry: ActionRegistry;
  /** Finds the file of a DAG called by `uses: dag` (`repo/id`, or `id` in the caller's repo). */
  resolveDag?: (ref: string, from: DagFile) => DagFile | undefined;
}

export interface CheckResult {
  dag?: CompiledDag;
  spec?: DagSpec;
  diagnostics: DagDiagnostic[];
}

class Reporter {
  readonly diagnostics: DagDiagnostic[] = [];
  constructor(
    private readonly file: DagFile,
    private readonly yaml: YamlSource,
    private readonly taskIdAt: (index: number) => string | undefined,
  ) {}

  add(code: DiagnosticCode, path: DocPath, message: string, atKey = false, spot?: StringSpot): void {
    const { line, column } = (spot && locateInString(this.yaml, this.file.text, path, spot)) ?? locate(this.yaml, path, atKey);
    this.diagnostics.push({ code, file: this.file.path, line, column, path: displayPath(path, this.taskIdAt), message });
  }
}

function retryPlan(retry: TaskSpec['retry']): RetryPlan {
  if (retry === undefined) return { maximumAttempts: 1, initialIntervalMs: 1000, backoffCoefficient: 2 };
  if (typeof retry === 'number') return { maximumAttempts: retry, initialIntervalMs: 1000, backoffCoefficient: 2 };
  return {
    maximumAttempts: retry.attempts,
    initialIntervalMs: parseDuration(retry.delay),
    backoffCoefficient: retry.backoff,
    ...(retry.maxDelay ? { maximumIntervalMs: parseDuration(retry.maxDelay) } : {}),
  };
}

/** Checks `with` against the action's schema; fields holding templates are checked when the task runs. */
function checkActionInput(report: Reporter, definition: ActionDefinition, input: Record<string, unknown>, at: DocPath): void {
  const result = definition.input.safeParse(input);
  if (result.success) return;
  for (const problem of shapeProblems(result.error, input)) {
    const [field] = problem.path;
    if (field !== undefined && isTemplated(input[String(field)])) continue;
    const where = problem.path.length ? problem.path : [];
    report.add('action-input', [...at, ...where], `${problem.message} (action "${definition.name}")`, problem.atKey);
  }
}

function compileCall(
  report: Reporter,
  registry: ActionRegistry,
  uses: string,
  input: Record<string, unknown>,
  at: DocPath,
): CompiledActionCall | undefined {
  const definition = registry.get(uses);
  if (!definition) {
    report.add('unknown-action', [...at, 'uses'], `unknown action "${uses}"${didYouMean(uses, registry.names())}; available: ${registry.names().join(', ')}`);
    return undefined;
  }
  checkActionInput(report, definition, input, [...at, 'with']);
  // Values stay data: expressions in shell scripts reach the script as environment variables, never as code.
  const safe = valuesAsData(definition.name, input);
  for (const problem of safe.problems) report.add('unsafe-value', [...at, 'with', ...problem.path], problem.message, problem.atKey, problem.spot);
  return {
    action: definition.name,
    execution: definition.execution,
    with: safe.with,
    nonRetryableErrors: [...definition.nonRetryableErrors],
    ...(definition.heartbeatTimeoutMs ? { heartbeatTimeoutMs: definition.heartbeatTimeoutMs } : {}),
    defaultTimeoutMs: definition.defaultTimeoutMs,
  };
}

function checkGraph(report: Reporter, tasks: readonly TaskSpec[]): boolean {
  const firstIndex = new Map<string, number>();
  let sound = true;
  tasks.forEach((task, index) => {
    const earlier = firstIndex.get(task.id);
    if (earlier !== undefined) {
      report.add('duplicate-task', ['tasks', index, 'id'], `duplicate task id "${task.id}" (first defined at tasks[${earlier}]); task ids must be unique`);
      sound = false;
    } else firstIndex.set(task.id, index);
  });
  const ids = [...firstIndex.keys()];
  tasks.forEach((task, index) => {
    task.needs.forEach((need, needIndex) => {
      if (need === task.id) {
        report.add('self-need', ['tasks', index, 'needs', needIndex], `task "${task.id}" cannot need itself`);
        sound = false;
      } else if (!firstIndex.has(need)) {
        report.add('unknown-need', ['tasks', index, 'needs', needIndex], `unknown task "${need}"${didYouMean(need, ids.filter((id) => id !== task.id))}`);
        sound = false;
      }
    });
  });
  if (!sound) return false;
  for (const cycle of findCycles(tasks)) {
    const index = firstIndex.get(cycle[0] ?? '') ?? 0;
    report.add('cycle', ['tasks', index, 'needs'], `dependency cycle: ${cycle.join(' -> ')}; remove one of these needs`);
    sound = false;
  }
  return sound;
}

function checkParamDefaults(report: Reporter, spec: DagSpec): void {
  for (const [name, param] of Object.entries(spec.params)) {
    const patternProblem = param.pattern === undefined ? undefined : linearRegexProblem(param.pattern);
    if (patternProblem !== undefined) {
      report.add('param', ['params', name, 'pattern'], patternProblem);
      continue;
    }
    if (param.default === undefined) continue;
    const problem = checkParamValue(param, param.default);
    if (problem) report.add('param', ['params', name, 'default'], `default ${problem}`);
  }
}

/**
 * Deepest chain of `uses: dag` calls. Each level compiles the next one recursively, so a repository
 * of thousands of DAGs calling one another in a line would otherwise exhaust the stack.
 */
export const MAX_SUB_DAG_DEPTH = 16;

function compileChildDag(
  report: Reporter,
  file: DagFile,
  context: CompileContext,
  stack: readonly string[],
  task: TaskSpec,
  index: number,
  children: Record<string, CompiledDag>,
  compiled: Map<string, CheckResult>,
): string | undefined {
  // Params given as one expression are checked when the task runs; the called DAG must still be pinned now.
  const templatedParams = isTemplated(task.with.params);
  const callWith = { dag: task.with.dag, ...(task.with.params === undefined ? {} : { params: task.with.params }) };
  const call = DagCallInput.safeParse(templatedParams ? { ...callWith, params: {} } : callWith);
  if (!call.success || isTemplated(call.data.dag)) {
    if (call.success) report.add('sub-dag', ['tasks', index, 'with', 'dag'], 'the called DAG must be named literally, not by an expression, so the run can be pinned');
    return undefined;
  }
  const ref = call.data.dag.includes('/') ? call.data.dag : `${file.repo}/${call.data.dag}`;
  if (stack.includes(ref)) {
    report.add('sub-dag', ['tasks', index, 'with', 'dag'], `DAG calls itself through ${[...stack, ref].join(' -> ')}`);
    return undefined;
  }
  if (stack.length > MAX_SUB_DAG_DEPTH) {
    report.add('sub-dag', ['tasks', index, 'with', 'dag'], `sub-DAG calls nested more than ${MAX_SUB_DAG_DEPTH} deep (${stack[0] ?? ''} -> … -> ${ref})`);
    return undefined;
  }
  const childFile = context.resolveDag?.(ref, file);
  if (!childFile) {
    report.add('sub-dag', ['tasks', index, 'with', 'dag'], `unknown DAG "${ref}"`);
    return undefined;
  }
  // The child adds its own id to the stack, as every DAG does. Each DAG is compiled once per top-level
  // check: DAGs that call the next one twice over would otherwise take time doubling with every level.
  const child = compiled.get(ref) ?? checkDagFile(childFile, context, stack, compiled);
  compiled.set(ref, child);
  if (!child.dag) {
    report.add('sub-dag', ['tasks', index, 'with', 'dag'], `DAG "${ref}" is invalid:\n    ${child.diagnostics.map((d) => `${d.file}:${d.line}:${d.column} ${d.path}: ${d.message}`).join('\n    ')}`);
    return undefined;
  }
  for (const [name, value] of Object.entries(call.data.params)) {
    const param = child.dag.params[name];
    if (!param) {
      report.add('sub-dag', ['tasks', index, 'with', 'params', name], `DAG "${ref}" has no param "${name}"${didYouMean(name, Object.keys(child.dag.params))}`, true);
    } else if (claimsSecretUri(value) && param.default !== value) {
      // The child's tasks read params.<name> as a value, and a value that arrives at run time is never resolved as a secret.
      report.add('sub-dag', ['tasks', index, 'with', 'params', name], `a secret reference passed to DAG "${ref}" would arrive there as text; make it the default of its param "${name}" in that DAG instead`);
    } else if (!isTemplated(value)) {
      const problem = checkParamValue(param, value);
      if (problem) report.add('sub-dag', ['tasks', index, 'with', 'params', name], problem);
    }
  }
  if (!templatedParams) {
    for (const [name, param] of Object.entries(child.dag.params)) {
      if (param.required && param.default === undefined && !(name in call.data.params)) {
        report.add('sub-dag', ['tasks', index, 'with'], `DAG "${ref}" requires param "${name}" (${param.type}); add it under with.params`);
      }
    }
  }
  children[ref] = child.dag;
  return ref;
}

/** Parses, shape-checks and meaning-checks one DAG file. Never throws for a bad file: problems come back as diagnostics. */
export function checkDagFile(file: DagFile, context: CompileContext, stack: readonly string[] = [], compiled = new Map<string, CheckResult>()): CheckResult {
  const text = parseDagText(file.text);
  if (!text.ok) return { diagnostics: limitDiagnostics(file, text) };
  const { yaml, raw } = text;
  const rawTasks = (raw as { tasks?: unknown } | undefined)?.tasks;
  const taskIdAt = (index: number): string | undefined => {
    const task = Array.isArray(rawTasks) ? (rawTasks[index] as { id?: unknown } | undefined) : undefined;
    return typeof task?.id === 'string' && /^[\w-]+$/.test(task.id) ? task.id : undefined;
  };
  const report = new Reporter(file, yaml, taskIdAt);

  if (yaml.document.errors.length > 0) {
    for (const error of yaml.document.errors) {
      const position = yaml.lineCounter.linePos(error.pos[0]);
      report.diagnostics.push({ code: 'yaml-syntax', file: file.path, line: position.line, column: position.col, path: '', message: `YAML syntax: ${error.message.split('\n')[0]}` });
    }
    return { diagnostics: report.diagnostics };
  }

  const parsed = DagSpec.safeParse(raw ?? {});
  if (!parsed.success) {
    for (const problem of shapeProblems(parsed.error, raw)) report.add('schema', problem.path, problem.message, problem.atKey);
    return { diagnostics: report.diagnostics };
  }
  const spec = parsed.data;
  checkParamDefaults(report, spec);
  const graphSound = checkGraph(report, spec.tasks);

  const children: Record<string, CompiledDag> = {};
  const compiledTasks = new Map<string, CompiledTask>();
  spec.tasks.forEach((task, index) => {
    const at: DocPath = ['tasks', index];
    const call = withSecretRefs(compileCall(report, context.registry, task.uses, task.with, at), spec.params);
    const compensate = task.compensate ? withSecretRefs(compileCall(report, context.registry, task.compensate.uses, task.compensate.with, [...at, 'compensate']), spec.params) : undefined;
    const ancestors = graphSound ? ancestorsOf(task.id, spec.tasks) : new Set(spec.tasks.map((t) => t.id));
    checkExpressions(report, task, index, { params: Object.keys(spec.params), ancestors, allTasks: spec.tasks.map((t) => t.id) });
    // A rollout runs its `with.dag` once per target, so that DAG is pinned like a `uses: dag` call.
    const childDag = call?.execution.kind === 'child-dag' || call?.execution.kind === 'rollout' ? compileChildDag(report, file, context, [...stack, `${file.repo}/${spec.id}`], task, index, children, compiled) : undefined;
    if (!call) return;
    const pinned = call.execution.kind === 'rollout' ? pinRolloutActions(context.registry, task.with) : undefined;
    for (const problem of pinned?.problems ?? []) report.add('unknown-action', [...at, 'with', ...problem.path], problem.message);
    compiledTasks.set(task.id, {
      ...call,
      id: task.id,
      ...(task.name ? { name: task.name } : {}),
      needs: task.needs,
      ...(task.when !== undefined ? { when: task.when } : {}),
      trigger: task.trigger,
      retry: retryPlan(task.retry),
      ...(task.timeout ? { timeoutMs: parseDuration(task.timeout) } : {}),
      ...(task.forEach !== undefined ? { forEach: task.forEach } : {}),
      ...(task.runsOn ? { runsOn: task.runsOn } : {}),
      ...(compensate ? { compensate } : {}),
      ...(childDag ? { childDag } : {}),
      ...(pinned ? { rolloutActions: pinned.actions } : {}),
    });
  });

  if (report.diagnostics.length > 0 || !graphSound) return { spec, diagnostics: report.diagnostics };
  const dag: CompiledDag = {
    catalogId: `${file.repo}/${spec.id}`,
    id: spec.id,
    description: spec.description,
    origin: { repo: file.repo, path: file.path, commit: file.commit },
    params: spec.params,
    tasks: topologicalOrder(spec.tasks).map((id) => compiledTasks.get(id) as CompiledTask),
    concurrency: spec.concurrency,
    ...(spec.timeout ? { timeoutMs: parseDuration(spec.timeout) } : {}),
    labels: spec.labels,
    ...(spec.on ? { triggers: spec.on } : {}),
    ...(spec.rollback ? { rollback: spec.rollback } : {}),
    ...(spec.notify ? { notify: spec.notify } : {}),
    ...(spec.maintenanceWindow ? { maintenanceWindow: spec.maintenanceWindow } : {}),
    ...(spec.hosts ? { hosts: { exclusive: spec.hosts.exclusive, workerWaitMs: parseDuration(spec.hosts.workerWait), workerWaitForMs: Object.fromEntries(Object.entries(spec.hosts.workerWaitFor).map(([host, limit]) => [host, parseDuration(limit)])) } } : {}),
    children,
  };
  for (const problem of historyBudgetProblems(dag)) report.add('history-limit', problem.field ? [problem.field] : [], problem.message, true);
  if (report.diagnostics.length > 0) return { spec, diagnostics: report.diagnostics };
  return { dag, spec, diagnostics: [] };
}

/** Like checkDagFile, but a bad file throws DagValidationError. */
export function compileDagFile(file: DagFile, context: CompileContext): CompiledDag {
  const result = checkDagFile(file, context);
  if (!result.dag) throw new DagValidationError(result.diagnostics);
  return result.dag;
}

export type { Reporter };
