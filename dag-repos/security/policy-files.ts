import type { CompiledDag } from '../compiler/compiled-dag';
import type { DagDiagnostic } from '../compiler/diagnostics';
import { parseDagText } from '../compiler/parse-limits';
import { displayPath, locate, parseYamlSource, type DocPath, type YamlSource } from '../compiler/source-map';
import type { DagSpec } from '../schema/dag-spec';
import { zodProblems } from '../../config/zod-problems';
import { actionRefusal, RepoPolicy } from '../schema/repo-policy';

/**
 * Repository policies meet files here: a policy or host cap file parsed under limits, and a DAG file checked
 * against a policy with each refusal located at its line. Apart from repo-policy.ts so the workflows, which
 * import the policy's schema, do not carry a YAML parser in their bundle.
 */

/** Whether a template (`${{ }}`) decides the value at run time: the compiler cannot judge it, the worker does. */
function isTemplated(value: string): boolean {
  return value.includes('${{');
}

/**
 * An input that makes an otherwise narrow action as powerful as `shell`, so `shell: false` refuses it:
 * host.reboot's verify command runs on the host as a shell step would; apt settings for updates.* choose
 * the sources and lists a package comes from, and so what runs as root.
 */
function commandLikeInput(action: string, input: Record<string, unknown>): { at: string[]; what: string } | undefined {
  if (action === 'host.reboot' && (input.verify as { command?: unknown } | undefined)?.command !== undefined) return { at: ['verify', 'command'], what: "host.reboot's verify command" };
  const aptOptions = input.aptOptions;
  const given = typeof aptOptions === 'string' || (aptOptions !== null && typeof aptOptions === 'object' && Object.keys(aptOptions).length > 0);
  if (action.startsWith('updates.') && given) return { at: ['aptOptions'], what: `${action}'s apt settings (which sources and lists packages come from)` };
  return undefined;
}

/**
 * What the policy forbids in one compiled DAG file, each with its file, line and field: a task (or its
 * `compensate`) whose action is not allowed, `shell` when not allowed, a literal `runsOn` queue the
 * policy does not list. A templated `runsOn`, and hosts allowed by labels, are judged where the task
 * runs (its worker knows its labels).
 */
export function checkDagPolicy(file: { path: string; text: string }, spec: DagSpec, dag: CompiledDag, policy: RepoPolicy, repo: string): DagDiagnostic[] {
  const diagnostics: DagDiagnostic[] = [];
  let yaml: YamlSource | undefined;
  const taskIdAt = (index: number): string | undefined => spec.tasks[index]?.id;
  const add = (at: DocPath, message: string): void => {
    yaml ??= parseYamlSource(file.text);
    const { line, column } = locate(yaml, at);
    diagnostics.push({ code: 'policy', file: file.path, line, column, path: displayPath(at, taskIdAt), message });
  };
  const byId = new Map(dag.tasks.map((task) => [task.id, task]));
  spec.tasks.forEach((taskSpec, index) => {
    const task = byId.get(taskSpec.id);
    if (!task) return;
    const refusal = actionRefusal(policy, task.action);
    if (refusal) add(['tasks', index, 'uses'], `action "${task.action}" is not allowed for repository ${repo}: ${refusal}`);
    const commandLike = commandLikeInput(task.action, task.with);
    const commandRefusal = commandLike ? actionRefusal(policy, 'shell') : undefined;
    if (!refusal && commandLike && commandRefusal) add(['tasks', index, 'with', ...commandLike.at], `${commandLike.what} is not allowed for repository ${repo}: ${commandRefusal}`);
    if (task.compensate) {
      const compensation = actionRefusal(policy, task.compensate.action);
      if (compensation) add(['tasks', index, 'compensate'], `action "${task.compensate.action}" is not allowed for repository ${repo}: ${compensation}`);
    }
    const queue = task.runsOn;
    const hosts = policy.hosts;
    // A queue the policy does not list may still be allowed by its host's labels, which only the host knows.
    if (queue !== undefined && !isTemplated(queue) && hosts?.queues !== undefined && !hosts.labels?.length && !hosts.queues.includes(queue)) {
      add(['tasks', index, 'runsOn'], `runsOn "${queue}" is not allowed for repository ${repo}: the policy allows only queues ${hosts.queues.join(', ') || '(none)'}`);
    }
  });
  return diagnostics;
}

/** Policy files are small: a few hundred names at most. */
export const POLICY_FILE_MAX_BYTES = 64 * 1024;

/**
 * A small YAML or JSON file (a policy, a host's cap) parsed under the DAG files' limits, so a deep or
 * alias-bombed file is refused before it is walked.
 */
export function parseLimitedYaml(text: string): { ok: true; raw: unknown } | { ok: false; problems: string[] } {
  if (text.length > POLICY_FILE_MAX_BYTES) return { ok: false, problems: [`file is ${text.length} characters; at most ${POLICY_FILE_MAX_BYTES}`] };
  const parsed = parseDagText(text);
  if (!parsed.ok) return { ok: false, problems: parsed.problems.map((problem) => problem.message) };
  return { ok: true, raw: parsed.raw ?? {} };
}

/** A policy file into a checked policy, or the problems found, each naming its field. */
export function parsePolicyText(text: string): { ok: true; policy: RepoPolicy } | { ok: false; problems: string[] } {
  const parsed = parseLimitedYaml(text);
  if (!parsed.ok) return parsed;
  const checked = RepoPolicy.safeParse(parsed.raw);
  if (!checked.success) return { ok: false, problems: zodProblems(checked.error, 'policy') };
  return { ok: true, policy: checked.data };
}
