import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { getRepo } from '../client/repos';
import { LabelCap } from './metric-labels';
import { RunCounts } from './run-counts';
import { SyncLatency, type SyncWatchOutcome } from './sync-latency';

/** How a run reached the API: a caller's POST /api/runs, or a signed DAG trigger. */
export type RunVia = 'api' | 'trigger';

/** What became of a forge push delivery (POST /hooks/<forge>/<repo>). */
export type PushOutcome =
  | 'accepted'
  | 'duplicate'
  | 'ping'
  | 'ignored_event'
  | 'untracked_branch'
  | 'malformed'
  | 'unknown_forge'
  | 'unknown_repo'
  | 'no_secret'
  | 'bad_signature'
  | 'not_ready'
  | 'rate_limited';

/** What became of a DAG trigger delivery (POST /trigger/<repo>/<dag>). */
export type TriggerOutcome =
  | 'accepted'
  | 'duplicate'
  | 'malformed'
  | 'invalid_params'
  | 'unknown_dag'
  | 'no_secret'
  | 'bad_signature'
  | 'missing_headers'
  | 'malformed_headers'
  | 'too_old'
  | 'in_the_future'
  | 'not_ready'
  | 'rate_limited';

const PUSH_OUTCOMES: readonly PushOutcome[] = ['accepted', 'duplicate', 'ping', 'ignored_event', 'untracked_branch', 'malformed', 'unknown_forge', 'unknown_repo', 'no_secret', 'bad_signature', 'not_ready', 'rate_limited'];
const TRIGGER_OUTCOMES: readonly TriggerOutcome[] = ['accepted', 'duplicate', 'malformed', 'invalid_params', 'unknown_dag', 'no_secret', 'bad_signature', 'missing_headers', 'malformed_headers', 'too_old', 'in_the_future', 'not_ready', 'rate_limited'];

/** What the API's routes tell the metrics; the webhook receivers get it as an optional dependency. */
export interface ApiMetricsRecorder {
  runStarted(dag: string, via: RunVia, by: string): void;
  pushDelivery(outcome: PushOutcome): void;
  triggerDelivery(outcome: TriggerOutcome): void;
  /** A push the repository accepted: its sync latency is measured until the commit is live. */
  pushAccepted(repo: string, commit: string, receivedAtMs: number): void;
}

export interface ApiMetrics extends ApiMetricsRecorder {
  registry: Registry;
  close(): Promise<void>;
}

export interface ApiMetricsOptions {
  client: Client;
  /** Catalog DAG ids; each gets run-count series of its own while the DAG label cap has room. */
  dagIds: () => Promise<string[]>;
  onError?: (error: unknown) => void;
  /** Distinct DAG label values (default 200); more share `_other`. */
  dagLabelLimit?: number;
  /** Distinct `by` label values (default 50); more share `_other`. */
  userLabelLimit?: number;
  runCountMaxAgeMs?: number;
  syncPollMs?: number;
}

// Push → live takes a fetch, a compile and a few Temporal round trips: seconds, minutes when a forge is slow.
const SYNC_BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];

/**
 * The API's Prometheus registry: runs started through the API, runs Temporal retains by DAG and
 * state, webhook deliveries by outcome, push-to-live sync latency, and the process's own metrics.
 * One registry per server (not prom-client's global one), so servers in one process stay apart.
 */
export function createApiMetrics(options: ApiMetricsOptions): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const dagLabels = new LabelCap(options.dagLabelLimit ?? 200);
  const userLabels = new LabelCap(options.userLabelLimit ?? 50);

  const started = new Counter({ name: 'qubinode_api_runs_started_total', help: 'DAG runs started through this API process, by DAG, how (api or trigger) and by whom', labelNames: ['dag', 'via', 'by'], registers: [registry] });

  const runCounts = new RunCounts({
    client: options.client,
    dags: async () => {
      const catalog = await options.dagIds().catch(() => [] as string[]);
      for (const id of catalog) dagLabels.admit(id);
      return dagLabels.values();
    },
    ...(options.runCountMaxAgeMs !== undefined ? { maxAgeMs: options.runCountMaxAgeMs } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
  });
  const countedAt = new Gauge({ name: 'qubinode_runs_counted_timestamp_seconds', help: 'When qubinode_runs was last counted (unix seconds); it lags when Temporal does not answer', registers: [registry] });
  const runs: Gauge<'dag' | 'state'> = new Gauge({
    name: 'qubinode_runs',
    help: 'DAG runs Temporal retains, by DAG and state (visibility counts, cached; runs leave it when the namespace retention expires)',
    labelNames: ['dag', 'state'],
    registers: [registry],
    collect: async () => {
      const snapshot = await runCounts.current();
      if (!snapshot) return;
      runs.reset();
      for (const { dag, state, count } of snapshot.counts) runs.set({ dag, state }, count);
      countedAt.set(snapshot.atMs / 1000);
    },
  });

  const deliveries = new Counter({ name: 'qubinode_webhook_deliveries_total', help: 'Webhook deliveries by receiver (push, trigger) and outcome', labelNames: ['receiver', 'outcome'], registers: [registry] });
  // Every outcome is known in advance: all series exist from the start, and no delivery can add one.
  for (const outcome of PUSH_OUTCOMES) deliveries.inc({ receiver: 'push', outcome }, 0);
  for (const outcome of TRIGGER_OUTCOMES) deliveries.inc({ receiver: 'trigger', outcome }, 0);

  const syncSeconds = new Histogram({ name: 'qubinode_repo_sync_seconds', help: 'Accepted push received to its commit live (or rejected, or its sync failed)', labelNames: ['outcome'], buckets: SYNC_BUCKETS, registers: [registry] });
  const unmeasured = new Counter({ name: 'qubinode_repo_sync_unmeasured_total', help: 'Accepted pushes whose sync latency was not measured: superseded by a newer push, timed out, or too many watched at once', labelNames: ['reason'], registers: [registry] });
  const latency = new SyncLatency({
    readRepo: (repo) => getRepo(options.client, repo),
    report: (outcome: SyncWatchOutcome, seconds?: number) => {
      if (seconds === undefined) unmeasured.inc({ reason: outcome });
      else syncSeconds.observe({ outcome }, seconds);
    },
    ...(options.syncPollMs !== undefined ? { pollMs: options.syncPollMs } : {}),
  });

  return {
    registry,
    runStarted: (dag, via, by) => started.inc({ dag: dagLabels.value(dag), via, by: userLabels.value(by) }),
    pushDelivery: (outcome) => deliveries.inc({ receiver: 'push', outcome }),
    triggerDelivery: (outcome) => deliveries.inc({ receiver: 'trigger', outcome }),
    pushAccepted: (repo, commit, receivedAtMs) => latency.watch(repo, commit, receivedAtMs),
    close: () => latency.close(),
  };
}

/** `GET /metrics` in Prometheus text format; route-policy.ts decides who may read it (a viewer token). */
export function registerMetricsRoute(app: FastifyInstance, metrics: ApiMetrics): void {
  app.get('/metrics', async (_request, reply) => reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()));
}
