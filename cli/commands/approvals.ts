import type { Command } from 'commander';
import type * as RunIds from '../../client/run-ids';
import type * as WorkflowViews from '../../client/workflow-views';
import type { DagRunStatus, RollbackRecord, RolloutProgress } from '../../client/workflow-views';
import { CliError, type CliContext } from '../context';
import { failureName, table } from '../output';

// Loaded by the action that uses them (see cli/main.ts).
const runIds = (): typeof RunIds => require('../../client/run-ids') as typeof RunIds;
const actorText: typeof WorkflowViews.actorText = (who) => (require('../../client/workflow-views') as typeof WorkflowViews).actorText(who);

/**
 * Whom the caller acts for: `--as`, else QUBINODE_USER. The actor is always who the CLI is (the OS
 * user directly, the token's user through the API); this name is recorded as onBehalfOf, checked
 * against the approvers, and through the API accepted from admins only.
 */
function forWhom(given: string | undefined): { forWhom?: string } {
  const name = given ?? process.env.QUBINODE_USER;
  return name ? { forWhom: name } : {};
}

function rollbackText(record: RollbackRecord): string {
  return [
    `rollback ${record.state} (${record.mode}, trigger ${record.trigger}: ${record.reason})`,
    table(
      ['TASK', 'ACTION', 'STATE', 'WHERE', 'NOTE'],
      record.compensations.map((entry) => [entry.itemIndex === undefined ? entry.taskId : `${entry.taskId}[${entry.itemIndex}]`, entry.action, entry.state, entry.runsOn ?? '', entry.error ? `${failureName(entry.error)}: ${entry.error.message}` : (entry.summary ?? '')]),
    ),
  ].join('\n');
}

/** Approvals, rollback and retry link of a run, for `qubinode status` (empty when the run has none). */
export function runControlText(status: DagRunStatus): string {
  const lines: string[] = [];
  if (status.retryOf) lines.push(`retry of ${status.retryOf}; reused ${status.tasks.filter((task) => task.reusedFrom).map((task) => task.id).join(', ') || 'nothing'}`);
  for (const gate of status.approvals ?? []) {
    const decided = gate.state === 'waiting' ? `waiting${gate.approvers.length ? ` for ${gate.approvers.join(' or ')}` : ''}${gate.timeoutAt ? ` until ${gate.timeoutAt} (then ${gate.onTimeout ?? 'reject'})` : ''}` : `${gate.state} by ${actorText({ by: gate.by ?? '?', ...(gate.onBehalfOf ? { onBehalfOf: gate.onBehalfOf } : {}) })} at ${gate.decidedAt ?? '?'}${gate.comment ? ` — ${gate.comment}` : ''}`;
    lines.push(`approval ${gate.taskId}: ${decided}`);
  }
  if (status.rollback) lines.push(rollbackText(status.rollback));
  return lines.join('\n');
}

export function rolloutText(progress: RolloutProgress): string {
  return [
    `rollout ${progress.rolloutId}`,
    `strategy ${progress.strategy} · ${progress.state}${progress.phase ? ` (${progress.phase})` : ''} · batch ${progress.batch} of ${progress.batches} · ${progress.done}/${progress.targets.length} done, ${progress.failed} failed`,
    ...(progress.rollback ? [`rollback: ${progress.rollback.trigger} — ${progress.rollback.reason}; order ${progress.rollback.order.join(', ')}`] : []),
    '',
    table(['BATCH', 'TARGET', 'QUEUE', 'STATE', 'NOTE'], progress.targets.map((target) => [String(target.batch), target.name, target.queue, target.state, target.error ?? ''])),
  ].join('\n');
}

export function registerApprovalCommands(program: Command, context: CliContext): void {
  program
    .command('approve')
    .description('Approve (or --reject) a task waiting for approval; also the step gates of a rollout task')
    .argument('<run>', 'run id')
    .argument('<task>', 'the approval task (or rollout task) id')
    .option('--reject', 'reject instead of approving (needs --comment)')
    .option('-c, --comment <text>', 'why; recorded in the run status and memo')
    .option('--as <name>', 'decide for this approver (recorded as acting for them; default $QUBINODE_USER, else yourself)')
    .action(async (run: string, task: string, options: { reject?: boolean; comment?: string; as?: string }) => {
      if (options.reject && !options.comment?.trim()) throw new CliError('--reject needs --comment saying why', 2);
      const record = await context.backend().decideApproval(run, { taskId: task, approve: !options.reject, ...forWhom(options.as), ...(options.comment ? { comment: options.comment } : {}) });
      console.log(`${task}: ${record.state} by ${actorText({ by: record.by ?? '?', ...(record.onBehalfOf ? { onBehalfOf: record.onBehalfOf } : {}) })}${record.comment ? ` — ${record.comment}` : ''}`);
    });

  program
    .command('abort')
    .description('Stop a run (or a rollout) and roll back what it changed (rollback: auto DAGs and rollouts)')
    .argument('<run>', 'run id, or a rollout id (rollout/...)')
    .option('-r, --reason <text>', 'why; recorded with the rollback trigger')
    .option('--as <name>', 'abort for this person (recorded as acting for them)')
    .action(async (run: string, options: { reason?: string; as?: string }) => {
      const id = await context.backend().abortRun(run, { ...forWhom(options.as), ...(options.reason ? { reason: options.reason } : {}) });
      console.log(`abort requested for ${id}`);
    });

  program
    .command('retry')
    .description('Start a new run of the same pinned DAG and params, reusing the outputs of tasks that succeeded upstream of the restart point')
    .argument('<run>', 'the finished run to retry')
    .option('--from <task>', 'restart at this task (default: every task that did not succeed)')
    .option('--json', 'print as JSON')
    .action(async (run: string, options: { from?: string; json?: boolean }) => {
      const backend = context.backend();
      const started = await backend.retryRun(run, { ...(options.from ? { from: options.from } : {}) });
      const url = backend.runUrl(started.runId);
      if (options.json) console.log(JSON.stringify({ ...started, retryOf: runIds().normaliseRunId(run) }, null, 2));
      else console.log(`started ${started.runId} (retry of ${runIds().normaliseRunId(run)}; reused ${started.reused.join(', ') || 'nothing'})${url ? `\n  web UI  ${url}` : ''}`);
    });

  program
    .command('rollback')
    .description("Run the compensations of a finished run's completed tasks, last completed first, and print the results")
    .argument('<run>', 'run id')
    .option('--as <name>', 'roll back for this person (recorded as acting for them)')
    .option('--json', 'print as JSON')
    .action(async (run: string, options: { as?: string; json?: boolean }) => {
      const record = await context.backend().rollbackRun(run, forWhom(options.as));
      console.log(options.json ? JSON.stringify(record, null, 2) : rollbackText(record));
      if (record.state !== 'succeeded') process.exitCode = 1;
    });

  program
    .command('rollout')
    .description("Show the progress of a run's rollout tasks: batch k of n, targets done/failed, rollback")
    .argument('<run>', 'run id, or a rollout id (rollout/...)')
    .option('--json', 'print as JSON')
    .action(async (run: string, options: { json?: boolean }) => {
      const backend = context.backend();
      const ids = runIds().isRolloutId(run)
        ? [run]
        : (await backend.runStatus(run)).tasks.filter((task) => task.action === 'rollout' && task.childRunId).map((task) => task.childRunId as string);
      if (ids.length === 0) throw new CliError(`run ${run} has no started rollout task`);
      const all = await Promise.all(ids.map((id) => backend.rolloutProgress(id)));
      console.log(options.json ? JSON.stringify(all, null, 2) : all.map(rolloutText).join('\n\n'));
    });
}
