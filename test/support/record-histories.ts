import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { History } from '@temporalio/common/lib/proto-utils';
import { ApplicationFailure } from '@temporalio/common';
import { getRunStatus, runStartOptions } from '../../client/runs';
import type { CompiledDag } from '../../dag-repos/compiler/compiled-dag';
import { WORKER_LOST } from '../../dag-repos/actions/action-definition';
import { analysisWorkflowId } from '../../workflows/workflow-ids';
import type { DagRunStatus, RunState } from '../../workflows/run-status';
import { startTestEngine, type TestEngine } from './engine';
import { until } from './waiting';

/**
 * Workflow histories of representative DAG runs, saved under test/fixtures/histories/ and replayed by
 * test/replay.test.ts against the current workflow code: a change to workflows/ that would break
 * runs already in flight fails that test. Re-record (`npx tsx test/support/record-histories.ts`) only
 * when a change is meant to be incompatible and is guarded by patching, or when adding scenarios
 * (`npx tsx test/support/record-histories.ts <name>...` records only the named ones).
 */

export const HISTORIES_DIR = path.join(__dirname, '..', 'fixtures', 'histories');

interface ProtoJson {
  toJson(type: unknown, message: unknown): unknown;
  fromJson(type: unknown, json: unknown, options?: { ignoreUnknownFields?: boolean }): unknown;
}

/**
 * Proto-JSON conversion of histories, in the form `temporal workflow show --output json` writes.
 *
 * TODO(package.json): `historyToJSON`/`historyFromJSON` of @temporalio/common throw "type must be a
 * Type" in this install, and so does `Worker.runReplayHistories` given JSON (string event ids):
 * npm nested three copies of protobufjs 8.8.1 (under @temporalio/proto, /common and /worker,
 * because the root holds protobufjs 7 for @grpc/proto-loader), and common's protojson rejects the
 * types built by proto's copy. Until one protobufjs 8 is hoisted (e.g. an `overrides` entry), use
 * the protojson of the very copy @temporalio/proto was built with, and hand the replayer decoded
 * histories.
 */
function historyCodec(): { toJson(history: History): unknown; fromJson(json: unknown): History } {
  const protoDir = path.dirname(require.resolve('@temporalio/proto/package.json'));
  const protojson = require(require.resolve('protobufjs/ext/protojson', { paths: [protoDir] })) as ProtoJson;
  const { patchProtobufRoot } = require(path.join(protoDir, 'lib', 'patch-protobuf-root')) as { patchProtobufRoot<T>(root: T): T };
  const root = patchProtobufRoot(require(protoDir) as { lookupType(name: string): { fromObject(value: unknown): unknown } });
  const historyType = root.lookupType('temporal.api.history.v1.History');
  return {
    toJson: (history) => protojson.toJson(historyType, historyType.fromObject(history)),
    fromJson: (json) => protojson.fromJson(historyType, json, { ignoreUnknownFields: true }) as History,
  };
}

const codec = historyCodec();

/** A saved history (proto JSON) as the History message the replayer takes. */
export function historyFromSavedJson(json: unknown): History {
  return codec.fromJson(json);
}

export interface Scenario {
  /** File name (without .json) of the saved history. */
  name: string;
  /** How the run must end; a recording that ends otherwise is refused. */
  expect: RunState;
  /** Other DAG texts for `uses: dag`. */
  others?: Record<string, string>;
  dag(dir: string): string;
  params?: Record<string, unknown>;
  /** Queues that need an activity-only worker (runsOn). */
  queues?: string[];
  /** Drives a run other than by waiting for it, e.g. cancels it midway. Returns the final status. */
  drive?(engine: TestEngine, runId: string, dir: string): Promise<DagRunStatus>;
  /** Starts the run other than as `qubinode run` does (e.g. as a schedule fires it). Returns its workflow id. */
  start?(engine: TestEngine, dag: CompiledDag): Promise<string>;
  /** Also record the AI analysis workflow of each failed task (`<name>.ai.<task>`), once it has ended. */
  recordAnalyses?: boolean;
}

const ROUTE_QUEUE = 'replay-fixture-host';

/** Task `work`: its first attempt hangs (until reported lost with its worker), the next one succeeds. */
const taskLostOnce = (dir: string): string => `  - id: work
    uses: shell
    with:
      script: |
        if [ -e ${JSON.stringify(path.join(dir, 'first-attempt'))} ]; then exit 0; fi
        touch ${JSON.stringify(path.join(dir, 'first-attempt'))}
        sleep 60`;

/** Reports the first attempt of `work` lost, as the next worker on its host would, and waits for the run. */
async function reportFirstAttemptLost(engine: TestEngine, runId: string, dir: string): Promise<DagRunStatus> {
  await until(() => existsSync(path.join(dir, 'first-attempt')), 15_000, 'the first attempt to start');
  const lost = ApplicationFailure.create({ type: WORKER_LOST, nonRetryable: true, message: 'the worker running attempt 1 died', details: [{ attempt: 1 }] });
  await engine.client.activity.fail({ workflowId: runId, activityId: 'work' }, lost);
  return engine.wait(runId);
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'chain',
    expect: 'succeeded',
    dag: () => `
id: chain
params:
  message: { type: string, default: hello }
tasks:
  - id: first
    uses: shell
    with: { script: 'echo "message=\${{ params.message }}" >> "$QUBINODE_OUTPUTS"' }
  - { id: second, uses: shell, needs: first, with: { command: [echo, "\${{ tasks.first.outputs.message }}"] } }
  - { id: third, uses: noop, needs: second, with: { exit: "\${{ tasks.second.outputs.exitCode }}" } }
`,
  },
  {
    name: 'diamond-concurrency',
    expect: 'succeeded',
    dag: () => `
id: diamond-concurrency
concurrency: 2
tasks:
  - { id: start, uses: noop }
  - { id: left, uses: sleep, needs: start, with: { duration: 50ms } }
  - { id: middle, uses: noop, needs: start }
  - { id: right, uses: shell, needs: start, with: { command: ['true'] } }
  - { id: join, uses: noop, needs: [left, middle, right] }
`,
  },
  {
    name: 'for-each',
    expect: 'failed',
    dag: () => `
id: for-each
params:
  hosts: { type: array, default: [hv-01, hv-02, hv-03] }
tasks:
  - id: each
    uses: shell
    forEach: \${{ params.hosts }}
    with: { script: 'if [ "\${{ item }}" = hv-02 ]; then exit 5; fi; echo "host=\${{ item }}" >> "$QUBINODE_OUTPUTS"' }
  - { id: labels, uses: noop, forEach: [a, b], with: { label: "\${{ item }}" } }
  - { id: empty, uses: noop, forEach: [] }
  - { id: summary, uses: noop, needs: [each, labels], trigger: all_done, with: { count: "\${{ tasks.each.outputs.count }}" } }
`,
  },
  {
    name: 'trigger-rules',
    expect: 'failed',
    dag: () => `
id: trigger-rules
tasks:
  - { id: ok, uses: noop }
  - { id: bad, uses: shell, with: { script: 'echo boom >&2; exit 3' } }
  - { id: skipped, uses: noop, needs: bad }
  - { id: all-done, uses: noop, needs: bad, trigger: all_done }
  - { id: none-failed, uses: noop, needs: [ok, skipped], trigger: none_failed }
  - { id: one-failed, uses: noop, needs: [ok, bad], trigger: one_failed }
  - { id: one-success, uses: noop, needs: [ok, bad], trigger: one_success }
  - { id: always, uses: noop, needs: skipped, trigger: always }
  - { id: never, uses: noop, when: false }
  - { id: guarded, uses: noop, needs: ok, when: "tasks.ok.state == 'succeeded'" }
`,
  },
  {
    name: 'retry',
    expect: 'failed',
    dag: (dir) => `
id: retry
tasks:
  - id: flaky
    uses: shell
    retry: { attempts: 3, delay: 100ms }
    with: { script: ${JSON.stringify(`n=$(cat '${dir}/count' 2>/dev/null || echo 0); n=$((n + 1)); echo $n > '${dir}/count'; [ $n -ge 2 ]`)} }
  - { id: missing, uses: shell, retry: 3, with: { command: [/nonexistent/binary] } }
  - { id: slow, uses: shell, timeout: 1s, with: { command: [sleep, '10'] } }
`,
  },
  {
    name: 'sub-dag',
    expect: 'failed',
    others: {
      child: `
id: child
params:
  name: { type: string, required: true }
tasks:
  - { id: greet, uses: shell, with: { script: 'echo "greeting=hi-\${{ params.name }}" >> "$QUBINODE_OUTPUTS"' } }
`,
      broken: `
id: broken
tasks:
  - { id: fail, uses: shell, with: { command: ['false'] } }
`,
    },
    dag: () => `
id: sub-dag
tasks:
  - { id: call, uses: dag, with: { dag: child, params: { name: ops } } }
  - { id: use, uses: noop, needs: call, with: { got: "\${{ tasks.call.outputs.tasks.greet.greeting }}" } }
  - { id: call-broken, uses: dag, with: { dag: broken } }
`,
  },
  {
    name: 'runs-on',
    expect: 'succeeded',
    queues: [ROUTE_QUEUE],
    dag: () => `
id: runs-on
tasks:
  - { id: remote, uses: shell, runsOn: ${ROUTE_QUEUE}, with: { command: [echo, routed] } }
`,
  },
  {
    name: 'cancelled',
    expect: 'cancelled',
    dag: (dir) => `
id: cancelled
tasks:
  - { id: long, uses: shell, with: { script: ${JSON.stringify(`touch '${dir}/started'; exec sleep 300`)} } }
  - { id: wait, uses: sleep, with: { duration: 5m } }
  - { id: after, uses: noop, needs: [long, wait] }
  - { id: cleanup, uses: noop, needs: long, trigger: always }
`,
    drive: async (engine, runId, dir) => {
      await until(() => existsSync(path.join(dir, 'started')), 15_000, 'the long task to start');
      await engine.client.workflow.getHandle(runId).cancel();
      return engine.wait(runId);
    },
  },
  {
    name: 'cancelled-child',
    expect: 'failed',
    others: {
      sleeper: `
id: sleeper
tasks:
  - { id: nap, uses: sleep, with: { duration: 5m } }
`,
    },
    dag: () => `
id: cancelled-child
tasks:
  - { id: call, uses: dag, with: { dag: sleeper } }
  - { id: after, uses: noop, needs: call }
`,
    // The child is cancelled on its own, as from the Temporal UI; the parent records the patch marker.
    drive: async (engine, runId) => {
      let childRunId = '';
      await until(
        async () => {
          childRunId = (await getRunStatus(engine.client, runId)).tasks.find((task) => task.id === 'call')?.childRunId ?? '';
          if (!childRunId) return false;
          return getRunStatus(engine.client, childRunId).then(
            (child) => child.tasks.some((task) => task.id === 'nap' && task.state === 'running'),
            () => false,
          );
        },
        15_000,
        'the child run to start',
      );
      await engine.client.workflow.getHandle(childRunId).cancel();
      return engine.wait(runId);
    },
  },
  {
    name: 'dag-timeout',
    expect: 'cancelled',
    dag: () => `
id: dag-timeout
timeout: 1s
tasks:
  - { id: wait, uses: sleep, with: { duration: 5m } }
  - { id: report, uses: noop, needs: wait, trigger: always }
`,
  },
  // Issue 5: an approval decided through the Update, then a failure that rolls back (rollback: auto).
  {
    name: 'approval-saga',
    expect: 'failed',
    dag: () => `
id: approval-saga
rollback: auto
tasks:
  - { id: gate, uses: approval, with: { approvers: [ops] } }
  - { id: a, uses: noop, needs: gate, compensate: { uses: noop, with: { undo: a } } }
  - { id: b, uses: noop, needs: a, compensate: { uses: noop, with: { undo: b } } }
  - { id: boom, uses: shell, needs: b, with: { command: ["false"] } }
`,
    drive: async (engine, runId) => {
      await until(async () => (await getRunStatus(engine.client, runId)).tasks.some((task) => task.id === 'gate' && task.state === 'waiting'), 15_000, 'the gate to wait');
      await engine.client.workflow.getHandle(runId).executeUpdate('approve', { args: [{ taskId: 'gate', approve: true, by: 'ops', comment: 'go' }] });
      return engine.wait(runId);
    },
  },
  // Issue 9: a gate decided by someone acting for the approver, after an ignored signal (the patched path).
  {
    name: 'approval-identity',
    expect: 'succeeded',
    dag: () => `
id: approval-identity
tasks:
  - { id: gate, uses: approval, with: { approvers: [ops] } }
  - { id: after, uses: noop, needs: gate, with: { by: "\${{ tasks.gate.outputs.by }}" } }
`,
    drive: async (engine, runId) => {
      await until(async () => (await getRunStatus(engine.client, runId)).tasks.some((task) => task.id === 'gate' && task.state === 'waiting'), 15_000, 'the gate to wait');
      const handle = engine.client.workflow.getHandle(runId);
      await handle.signal('approval', { taskId: 'gate', approve: true, by: 'mallory' });
      await handle.executeUpdate('approve', { args: [{ taskId: 'gate', approve: true, by: 'root', onBehalfOf: 'ops', comment: 'for ops' }] });
      return engine.wait(runId);
    },
  },
  // Issue 5: a canary rollout whose second target fails; the first is rolled back.
  {
    name: 'rollout-canary',
    expect: 'failed',
    queues: [`${ROUTE_QUEUE}-a`, `${ROUTE_QUEUE}-b`],
    others: {
      step: `
id: step
params: { queue: { type: string }, target: { type: string } }
tasks:
  - { id: change, uses: noop, runsOn: "\${{ params.queue }}", compensate: { uses: noop, with: { undo: "\${{ params.target }}" } } }
  - { id: check, uses: shell, needs: change, runsOn: "\${{ params.queue }}", with: { command: [test, "\${{ params.target }}", "!=", b] } }
`,
    },
    dag: () => `
id: rollout-canary
tasks:
  - id: roll
    uses: rollout
    with: { dag: step, strategy: canary, steps: [1], targets: [{ name: a, queue: ${ROUTE_QUEUE}-a }, { name: b, queue: ${ROUTE_QUEUE}-b }] }
`,
  },
  // Issue 10: a task's worker dies; the next worker reports the attempt lost and the run runs the task again
  // apart from its retry budget (the patched path). The report is sent here as that worker would send it.
  {
    name: 'worker-loss',
    expect: 'succeeded',
    dag: (dir) => `
id: worker-loss
tasks:
${taskLostOnce(dir)}
  - { id: after, uses: noop, needs: work }
`,
    drive: reportFirstAttemptLost,
  },
  // The lean task path (patch lean-task-path): tasks sharing two slots, a skipped one, a retried one, a failed
  // one, forEach items, and an attempt lost with its worker (reported as in worker-loss), which runs again.
  {
    name: 'lean-tasks',
    expect: 'failed',
    dag: (dir) => `
id: lean-tasks
concurrency: 2
tasks:
${taskLostOnce(dir)}
  - { id: a, uses: noop }
  - { id: b, uses: sleep, with: { duration: 50ms } }
  - { id: c, uses: shell, with: { command: ['true'] } }
  - { id: skipped, uses: noop, when: false }
  - id: flaky
    uses: shell
    retry: { attempts: 3, delay: 100ms }
    with: { script: ${JSON.stringify(`n=$(cat '${dir}/count' 2>/dev/null || echo 0); n=$((n + 1)); echo $n > '${dir}/count'; [ $n -ge 2 ]`)} }
  - { id: bad, uses: shell, with: { script: 'echo boom >&2; exit 3' } }
  - { id: each, uses: noop, forEach: [x, y, z], needs: [a, b, c] }
  - { id: after, uses: noop, needs: [work, each, flaky] }
`,
    drive: reportFirstAttemptLost,
  },
  // A rollback that undoes only what the run made (the patched path): one task found its resource already
  // there, a forEach task is undone item by item (its created items; one item found, one failed).
  {
    name: 'undo-created',
    expect: 'failed',
    dag: (dir) => `
id: undo-created
rollback: auto
tasks:
  - id: existing
    uses: shell
    with: { script: echo created=false >> "$QUBINODE_OUTPUTS" }
    compensate: { uses: shell, with: { command: [touch, "${dir}/undo-existing"] } }
  - id: items
    uses: shell
    needs: existing
    forEach: [made, there, broken]
    with: { command: [sh, -c, 'case "$1" in made) echo created=true >> "$QUBINODE_OUTPUTS";; there) echo created=false >> "$QUBINODE_OUTPUTS";; *) exit 3;; esac', item, "\${{ item }}"] }
    compensate: { uses: shell, with: { command: [touch, "${dir}/undo-\${{ item }}"] } }
`,
  },
  // A run fired by a schedule (the patched path): the input says sched-0, the workflow id adds the time it
  // fired, as a Temporal Schedule names it; the sub-DAG run is named after the fired run's own key.
  {
    name: 'scheduled',
    expect: 'succeeded',
    others: { child: 'id: child\ntasks:\n  - { id: hi, uses: noop }\n' },
    dag: () => `
id: scheduled
tasks:
  - { id: call, uses: dag, with: { dag: child } }
`,
    start: async (engine, dag) => {
      const options = runStartOptions({ dag, params: {}, taskQueue: engine.taskQueue, runKey: 'sched-0' });
      const workflowId = `${options.workflowId}-${new Date().toISOString().slice(0, 19)}Z`;
      await engine.client.workflow.start('dagRun', { ...options, workflowId });
      return workflowId;
    },
  },
  // One job per host and the wait for a host's worker (the patched paths): the run takes its host at start,
  // runs a task there under a schedule-to-start limit, releases it at the end; the second host has no worker.
  {
    name: 'host-lock',
    expect: 'failed',
    queues: [`${ROUTE_QUEUE}-locked`],
    params: { gone: `${ROUTE_QUEUE}-gone` },
    dag: () => `
id: host-lock
params: { gone: { type: string } }
hosts: { workerWait: 2s }
tasks:
  - { id: held, uses: shell, runsOn: ${ROUTE_QUEUE}-locked, with: { command: [echo, held] } }
  - { id: gone, uses: shell, needs: held, runsOn: "\${{ params.gone }}", with: { command: [echo, never] } }
`,
  },
  // Issue 14: the analysis of a failed task answers from the rules first, then asks the model to enrich it (patched path).
  {
    name: 'ai-analysis',
    expect: 'failed',
    recordAnalyses: true,
    dag: () => `
id: ai-analysis
tasks:
  - id: install
    uses: shell
    with: { script: 'echo "Error: Unable to find a match: libvirt-dameon" >&2; exit 1' }
`,
  },
];

export interface RecordedHistory {
  name: string;
  workflowId: string;
  /** Proto JSON of the history, as saved. */
  json: unknown;
}

/** A workflow's history as proto JSON, as the fixtures are saved. */
export async function historyOf(engine: TestEngine, workflowId: string): Promise<unknown> {
  return codec.toJson(await engine.client.workflow.getHandle(workflowId).fetchHistory());
}

/** Runs one scenario to its end and returns its history, plus one per child run (`<name>.<task>`). */
export async function recordScenario(engine: TestEngine, scenario: Scenario): Promise<RecordedHistory[]> {
  const dir = mkdtempSync(path.join(tmpdir(), `qubinode-history-${scenario.name}-`));
  try {
    for (const queue of scenario.queues ?? []) await engine.addWorker(queue, false);
    const dag = engine.compile(scenario.dag(dir), scenario.others);
    const runId = scenario.start ? await scenario.start(engine, dag) : await engine.start(dag, scenario.params ?? {}, `replay-${randomUUID().slice(0, 8)}`);
    const status = scenario.drive ? await scenario.drive(engine, runId, dir) : await engine.wait(runId);
    if (status.state !== scenario.expect) {
      throw new Error(`scenario ${scenario.name}: run ${runId} ended ${status.state}, expected ${scenario.expect}: ${JSON.stringify(status.tasks)}`);
    }
    const recorded: RecordedHistory[] = [{ name: scenario.name, workflowId: runId, json: await historyOf(engine, runId) }];
    // Child runs have closed by now: their parent waited for them.
    for (const task of status.tasks) {
      if (!task.childRunId) continue;
      recorded.push({ name: `${scenario.name}.${task.id}`, workflowId: task.childRunId, json: await historyOf(engine, task.childRunId) });
    }
    for (const task of scenario.recordAnalyses ? status.tasks.filter((entry) => entry.state === 'failed') : []) {
      const workflowId = analysisWorkflowId(runId, task.id);
      await engine.client.workflow.getHandle(workflowId).result();
      recorded.push({ name: `${scenario.name}.ai.${task.id}`, workflowId, json: await historyOf(engine, workflowId) });
    }
    return recorded;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Reads every saved history: file name (without .json) and the parsed history JSON. */
export function loadSavedHistories(dir = HISTORIES_DIR): { name: string; json: unknown }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => ({ name: file.slice(0, -'.json'.length), json: JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as unknown }));
}

/** Records every scenario, or only those named on the command line. */
async function main(names: readonly string[]): Promise<void> {
  const unknown = names.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name));
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(', ')}; known: ${SCENARIOS.map((scenario) => scenario.name).join(', ')}`);
  const engine = await startTestEngine();
  try {
    mkdirSync(HISTORIES_DIR, { recursive: true });
    for (const scenario of SCENARIOS.filter((candidate) => names.length === 0 || names.includes(candidate.name))) {
      const started = Date.now();
      for (const { name, json } of await recordScenario(engine, scenario)) {
        writeFileSync(path.join(HISTORIES_DIR, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
        console.log(`saved ${name}.json (${Date.now() - started} ms)`);
      }
    }
  } finally {
    await engine.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
