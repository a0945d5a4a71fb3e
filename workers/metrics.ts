import { Context, CancelledFailure } from '@temporalio/activity';
import type { MetricsExporterConfig } from '@temporalio/worker';

type AnyActivity = (...args: never[]) => Promise<unknown>;

/** Every action run on this worker (exported as `qubinode_action_executions_total`), tagged `outcome` and `attempt` (the SDK adds namespace, taskQueue, activityType). */
export const ACTION_EXECUTIONS = 'qubinode_action_executions';
/** Wall time of each action attempt, tagged like ACTION_EXECUTIONS; exported as `qubinode_action_duration_seconds`. */
export const ACTION_DURATION = 'qubinode_action_duration';

export type ActionOutcome = 'succeeded' | 'failed' | 'cancelled';

// Actions run from under a second (a shell step) to an hour (a host bootstrap): wide buckets, few of them.
const ACTION_DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

// Retry policies may allow hundreds of attempts; one series per attempt number would grow without end.
const ATTEMPT_LABEL_CAP = 10;

/** The `attempt` tag: the number up to 9, then one bucket, so the series stay bounded whatever a DAG's retry policy. */
export function attemptLabel(attempt: number): string {
  return attempt >= ATTEMPT_LABEL_CAP ? `${ATTEMPT_LABEL_CAP}+` : String(Math.max(1, Math.trunc(attempt)));
}

/**
 * The SDK runtime's Prometheus exporter, serving `/metrics` on `bindAddress` (an IP literal and port):
 * the SDK's own series (temporal_*) and the per-action ones below, named as Prometheus expects
 * (counters end in `_total`, durations in seconds with the unit in the name).
 */
export function workerMetricsExporter(bindAddress: string): MetricsExporterConfig {
  return {
    prometheus: {
      bindAddress,
      countersTotalSuffix: true,
      unitSuffix: true,
      useSecondsForDurations: true,
      histogramBucketOverrides: { [ACTION_DURATION]: ACTION_DURATION_BUCKETS },
    },
  };
}

function outcomeOf(error: unknown): ActionOutcome {
  if (error instanceof CancelledFailure) return 'cancelled';
  // An activity that noticed the cancellation may fail in its own words (a killed process, an aborted fetch).
  return Context.current().cancellationSignal.aborted ? 'cancelled' : 'failed';
}

/**
 * Counts and times every activity through the SDK's metric meter, so the series appear on the same
 * endpoint as the SDK's own. Without a metrics exporter the meter is a no-op and this costs nothing.
 * Tags come from code (outcome, a capped attempt) and the SDK (activity type, task queue), never
 * from a DAG's values.
 */
export function withActionMetrics<T extends Record<string, AnyActivity>>(activities: T): T {
  const wrapped: Record<string, AnyActivity> = {};
  for (const [name, activity] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      const context = Context.current();
      const started = performance.now();
      let outcome: ActionOutcome = 'succeeded';
      try {
        return await activity(...args);
      } catch (error) {
        outcome = outcomeOf(error);
        throw error;
      } finally {
        const tags = { outcome, attempt: attemptLabel(context.info.attempt) };
        const meter = context.metricMeter;
        meter.createCounter(ACTION_EXECUTIONS, '1', 'Actions run on this worker, by outcome and attempt').add(1, tags);
        meter.createHistogram(ACTION_DURATION, 'float', 'seconds', 'Wall time of each action attempt').record((performance.now() - started) / 1000, tags);
      }
    };
  }
  return wrapped as T;
}
