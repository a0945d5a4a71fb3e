/**
 * The DAGs of the fleet trials, as text. Every tool they run starts with the journal prelude and
 * writes to its host's journal (test/support/fleet-trial-records.ts reads it). Values reach the
 * scripts as environment variables, never as script text.
 */

/**
 * Shell lines every trial tool starts with: its journal, and a look at every copy that started before
 * it on this host; one still alive is written down as `alive`, which no trial tolerates.
 * TRIAL reaches the script as an environment variable, never as script text.
 */
const JOURNAL_PRELUDE = `j="$QUBINODE_DATA_DIR/trials/$TRIAL.journal"
mkdir -p "$QUBINODE_DATA_DIR/trials"
now() { date +%s%N; }
if [ -f "$j" ]; then
  for p in $(awk '$1 == "start" { print $2 }' "$j"); do
    if kill -0 "$p" 2>/dev/null; then echo "alive $$ $(now) $p" >> "$j"; fi
  done
fi`;

/** Indents a block of text for a YAML block scalar. */
function indent(text: string, spaces: number): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? line : `${' '.repeat(spaces)}${line}`))
    .join('\n');
}

/**
 * A long task on one host. The first copy holds for `hold` seconds; a copy that finds an earlier start
 * in the journal is the run's retry and holds `again` seconds. SIGTERM is written down before it exits.
 */
export function longTaskDag(options: { id: string; host: string; trial: string; hold: number; again: number; timeout: string; workerWait?: string; slowStop?: number }): string {
  // slowStop: the tool takes that long to stop after SIGTERM (a package manager finishing its transaction).
  const onTerm = options.slowStop === undefined ? `echo "term $$ $(now)" >> "$j"; exit 143` : `echo "term $$ $(now)" >> "$j"; sleep ${options.slowStop}; echo "stopped $$ $(now)" >> "$j"; exit 143`;
  const script = `${JOURNAL_PRELUDE}
hold="$HOLD"
if grep -q '^start ' "$j"; then hold="$AGAIN"; fi
echo "start $$ $(now)" >> "$j"
trap '${onTerm}' TERM
sleep "$hold" & wait $!
echo "end $$ $(now)" >> "$j"`;
  const hosts = options.workerWait === undefined ? '' : `hosts:\n  workerWait: ${options.workerWait}\n`;
  return `id: ${options.id}
timeout: ${options.timeout}
${hosts}tasks:
  - id: long
    uses: shell
    runsOn: ${options.host}
    with:
      env:
        TRIAL: ${options.trial}
        HOLD: "${options.hold}"
        AGAIN: "${options.again}"
      script: |
${indent(script, 8)}
`;
}

/** The update task of the rollout trials' step DAGs: holds a while, then leaves a marker its compensation removes. */
const APPLY_TASK = `  - id: apply
    uses: shell
    runsOn: \${{ params.queue }}
    with:
      env:
        TRIAL: \${{ params.trial }}
        HOLD: \${{ params.hold }}
      script: |
${indent(`${JOURNAL_PRELUDE}
echo "start $$ $(now) $PPID" >> "$j"
trap 'echo "term $$ $(now)" >> "$j"; exit 143' TERM
sleep "$HOLD" & wait $!
: > "$QUBINODE_DATA_DIR/trials/$TRIAL.updated"
echo "apply $$ $(now)" >> "$j"`, 8)}
    compensate:
      uses: shell
      with:
        env:
          TRIAL: \${{ params.trial }}
        script: |
          j="$QUBINODE_DATA_DIR/trials/$TRIAL.journal"
          rm -f "$QUBINODE_DATA_DIR/trials/$TRIAL.updated"
          echo "undo $$ $(date +%s%N)" >> "$j"`;

const STEP_PARAMS = `params:
  target: { type: string }
  queue: { type: string }
  trial: { type: string, required: true }
  hold: { type: string, default: "0.2" }
  reboot_on: { type: string, default: none }`;

/**
 * The per-host update step of the rollout trials: `apply` holds a while, then leaves a marker in the
 * host's data directory; its compensation removes the marker. Both write to the host's journal.
 */
export const STEP_DAG = `id: trial-step
${STEP_PARAMS}
tasks:
${APPLY_TASK}
`;

/**
 * The step of the reboot trial: the update, then `host.reboot` on the host named by `reboot_on` only
 * (waiting for its worker to come back and checking the update's marker is there), then a task that
 * notes which worker process ran it.
 */
export const REBOOT_STEP_DAG = `id: trial-step
${STEP_PARAMS}
tasks:
${APPLY_TASK}
  - id: reboot
    uses: host.reboot
    runsOn: \${{ params.queue }}
    needs: [apply]
    when: \${{ params.target == params.reboot_on }}
    with:
      drain: { mode: none }
      waitFor: 2m
      verify: { command: [sh, -c, 'test -e "$QUBINODE_DATA_DIR/trials/reboot.updated"'] }
  - id: after
    uses: shell
    runsOn: \${{ params.queue }}
    needs: [reboot]
    trigger: none_failed
    with:
      env:
        TRIAL: \${{ params.trial }}
      script: |
        echo "after $$ $(date +%s%N) $PPID" >> "$QUBINODE_DATA_DIR/trials/$TRIAL.journal"
`;

/** A canary rollout of STEP_DAG over hv1 | hv2 | hv3, optionally with the shell health check after each batch. */
export function canaryDag(options: { id: string; trial: string; hold: string; healthCheck: boolean; timeout: string; rebootOn?: string }): string {
  const analysis = options.healthCheck
    ? `
      analysis:
        checks:
          - uses: shell
            with:
              script: test ! -e "$QUBINODE_DATA_DIR/trials/unhealthy"`
    : '';
  return `id: ${options.id}
timeout: ${options.timeout}
tasks:
  - id: roll
    uses: rollout
    with:
      dag: trial-step
      targets: [hv1, hv2, hv3]
      strategy: canary
      steps: [1, 2, 3]
      params:
        trial: ${options.trial}
        hold: "${options.hold}"${options.rebootOn === undefined ? '' : `\n        reboot_on: ${options.rebootOn}`}${analysis}
`;
}
