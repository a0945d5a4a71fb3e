import { createHash } from 'node:crypto';
import * as path from 'node:path';
import rateLimit from '@fastify/rate-limit';
import type { Client } from '@temporalio/client';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { QubinodeConfig } from '../config/config';
import { recordAudit, recordAuditBatch, type AuditRecordInput } from '../client/audit';
import { catalogLoader } from '../client/catalog';
import { RepoError, RepoSyncUnavailableError, signalSync } from '../client/repos';
import { hookRunKey } from '../client/run-ids';
import { RunAlreadyExistsError, startRun } from '../client/runs';
import { HostRegistryUnavailableError, UnknownHostError } from '../client/hosts';
import type { ActionRegistry } from '../dag-repos/actions/registry';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import { renderValue } from '../dag-repos/expressions';
import { deliveryId, parseForgeEvent, verifyDelivery, verifyTrigger, type Forge, type TriggerRefusal } from '../dag-repos/git/webhook-verify';
import { isCommitSha } from '../dag-repos/schema/git-refs';
import { ParamValidationError, resolveParams } from '../dag-repos/schema/params';
import { WEBHOOK_SECRET_MIN_LENGTH } from '../dag-repos/schema/triggers';
import { CatalogUnavailableError, createCatalogCache, type CatalogCache, type CatalogSnapshot } from './catalog-cache';
import { AuditBatches } from './audit-batches';
import { DeliveryIds } from './delivery-ids';
import { PendingSyncs } from './pending-syncs';
import type { RecentDelivery, RecentDeliveries } from './recent-deliveries';
import { SyncSignals } from './sync-signals';
import type { ApiMetricsRecorder, PushOutcome, TriggerOutcome } from './metrics';

export interface WebhookDependencies {
  config: QubinodeConfig;
  client: Client;
  registry: ActionRegistry;
  env?: NodeJS.ProcessEnv;
  /** The API's shared catalog cache; without one the receivers keep their own (closed with the server). */
  catalogCache?: CatalogCache;
  /** Counts deliveries by outcome, runs started and push-to-live latency (api/metrics.ts). */
  metrics?: ApiMetricsRecorder;
  /** Source addresses the per-source limiter tracks at once (default 10,000); the least recent are forgotten. */
  rateLimitSourcesKept?: number;
  /** The last deliveries of each registered repository, for GET /api/repos and the web page. */
  deliveries?: RecentDeliveries;
}

const FORGES: readonly Forge[] = ['github', 'gitlab', 'bitbucket'];

/** What a push handler learnt of a delivery to a registered repository, kept once the answer is sent. */
const deliveryNotes = new WeakMap<FastifyRequest, { repo: string; delivery: Omit<RecentDelivery, 'status'> }>();
/** An event name from a forge's header as the page may show it (the header is not covered by the signature). */
const shownEvent = (event: string): string => (/^[\w :.-]{1,64}$/.test(event) ? event : 'other');
export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

// One answer for every push that cannot be authenticated — unknown forge, unknown repository, no
// secret configured, wrong signature — so strangers cannot tell which repositories exist.
const PUSH_REFUSED = { error: 'signature or token does not match' } as const;

const TRIGGER_REFUSED: Record<TriggerRefusal, { error: string }> = {
  'missing-headers': { error: 'X-Qubinode-Timestamp, X-Qubinode-Delivery and X-Qubinode-Signature-256 are required' },
  'malformed-headers': { error: 'X-Qubinode-Timestamp must be unix seconds and X-Qubinode-Delivery 8-64 of A-Z a-z 0-9 . _ -' },
  // Unknown DAGs, DAGs without on.webhook and unusable secrets answer this too.
  'bad-signature': { error: 'signature does not match (X-Qubinode-Signature-256: sha256=<HMAC-SHA256 of "<timestamp>.<delivery>.<body>">)' },
  'too-old': { error: 'X-Qubinode-Timestamp is outside the accepted window; sign each delivery when it is sent' },
  'in-the-future': { error: 'X-Qubinode-Timestamp is outside the accepted window; check the sender\'s clock' },
};

const NOT_READY = { error: 'not ready, try again shortly' } as const;
const BUSY = { error: 'the workflow engine did not take the delivery in time; deliver it again shortly' } as const;

/** Seconds a forge is asked to wait before redelivering after a 503 or a 429. */
const RETRY_AFTER_SECONDS = 5;
/** How long a delivery waits for the process's first catalog load: only at start-up, and inside the 10 s forges allow. */
const FIRST_LOAD_WAIT_MS = 8000;
/** Accepted delivery ids this process remembers (per repository and forge). */
const DELIVERY_IDS_KEPT = 10_000;
/** Source addresses the per-source limiter tracks at once; the least recent are dropped first. */
const RATE_LIMIT_SOURCES_KEPT = 10_000;

const TRIGGER_OUTCOME: Record<TriggerRefusal, TriggerOutcome> = {
  'missing-headers': 'missing_headers',
  'malformed-headers': 'malformed_headers',
  'bad-signature': 'bad_signature',
  'too-old': 'too_old',
  'in-the-future': 'in_the_future',
};

/**
 * Audits what an authenticated delivery did. Forged requests are not audited: that would let a
 * stranger make the API write to Temporal. A failed audit write is logged and does not undo the action.
 */
async function audit(deps: WebhookDependencies, request: FastifyRequest, entry: Omit<AuditRecordInput, 'via' | 'from'>): Promise<void> {
  // Bounded like the delivery itself, so a slow Temporal cannot make audit writes pile up behind a burst.
  await deps.client.connection.withDeadline(Date.now() + deps.config.api.hooksTemporalTimeoutMs, () => recordAudit(deps.client, { ...entry, via: 'webhook', from: request.ip })).catch((error: Error) => request.log.error({ audit: entry, err: error.message }, 'audit entry not recorded'));
}

function parsePayload(request: FastifyRequest): unknown {
  const text = rawBody(request).toString('utf8');
  if (String(request.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    const payload = new URLSearchParams(text).get('payload');
    if (payload === null) throw new SyntaxError('form body without a payload field');
    return JSON.parse(payload) as unknown;
  }
  return JSON.parse(text) as unknown;
}

function rawBody(request: FastifyRequest): Buffer {
  return (request.body as Buffer | undefined) ?? Buffer.alloc(0);
}

/**
 * Webhook receivers: forge pushes (`/hooks/<forge>/<repo>`) and DAG triggers (`/trigger/<repo>/<dag>`).
 * Each request is authenticated against the cached catalog before anything touches Temporal.
 */
export async function registerWebhookRoutes(app: FastifyInstance, deps: WebhookDependencies): Promise<void> {
  const env = deps.env ?? process.env;
  const cache = deps.catalogCache ?? createCatalogCache({ load: catalogLoader(deps.config, deps.registry, deps.client), onError: (error) => app.log.error({ err: error }, 'catalog load failed') });
  if (!deps.catalogCache) app.addHook('onClose', async () => cache.close());
  const warnedSecrets = new Set<string>();
  const accepted = new DeliveryIds(DELIVERY_IDS_KEPT);
  const syncSignals = new SyncSignals((repo, args) => signalSync(deps.client, repo, args, deps.config.api.hooksTemporalTimeoutMs));
  const pendingSyncs = new PendingSyncs({
    directory: path.join(deps.config.dataDir, 'api', 'sync-due'),
    signals: syncSignals,
    // Removed since the registry was loaded: its note goes, and the registry reloads without it.
    isGone: (error) => {
      if (!(error instanceof RepoError)) return false;
      cache.invalidate();
      return true;
    },
    onError: (repo, error) => app.log.warn({ repo, err: (error as Error).message }, 'an accepted push is not handed to Temporal yet; noted on disk and tried again'),
  });
  // Pushes an earlier process answered but did not hand over before it died.
  void pendingSyncs.resume().catch((error: unknown) => app.log.error({ err: error }, 'could not resume the noted pushes'));
  app.addHook('onClose', async () => pendingSyncs.close());
  // Audit entries of accepted pushes are written after the answer, in batches; close waits for them so none outlives the client.
  const pushAudit = new AuditBatches(
    (batch) => deps.client.connection.withDeadline(Date.now() + deps.config.api.hooksTemporalTimeoutMs, () => recordAuditBatch(deps.client, batch)),
    (entries, reason) => app.log.error({ lost: entries.length, first: entries[0], err: reason }, 'audit entries of accepted pushes not recorded'),
  );
  app.addHook('onClose', async () => pushAudit.flushed());

  /** The value of a secret variable when it is long enough to be one; a short one is logged once, never used. */
  const usableSecret = (name: string | undefined, log: FastifyRequest['log']): string | undefined => {
    const value = name ? env[name] : undefined;
    if (!name || !value) return undefined;
    if (value.length >= WEBHOOK_SECRET_MIN_LENGTH) return value;
    if (!warnedSecrets.has(name)) {
      warnedSecrets.add(name);
      log.warn({ secretEnv: name }, `webhook secret in ${name} is shorter than ${WEBHOOK_SECRET_MIN_LENGTH} characters: requests signed with it are refused`);
    }
    return undefined;
  };

  const snapshotOr503 = async (reply: FastifyReply): Promise<CatalogSnapshot | undefined> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      // Only the very first load is ever awaited here; a Temporal that does not answer it costs a 503, not a held request.
      const waited = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new CatalogUnavailableError('the first catalog load is still running')), Math.max(FIRST_LOAD_WAIT_MS, deps.config.api.hooksTemporalTimeoutMs));
      });
      return await Promise.race([cache.latest(), waited]);
    } catch (error) {
      if (error instanceof CatalogUnavailableError) {
        await reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS)).send(NOT_READY);
        return undefined;
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  };

  await app.register(async (scope) => {
    // Strangers may call these routes: each source address, and all of them together, get a bounded
    // share before any body is read. Over it, 429 with Retry-After (forges redeliver).
    const kept = { cache: deps.rateLimitSourcesKept ?? RATE_LIMIT_SOURCES_KEPT };
    await scope.register(rateLimit, { global: false, ...kept });
    // Each limiter gets its own store, sized by its own options (the plugin's size is not inherited).
    const limits = [
      scope.createRateLimit({ ...kept, max: deps.config.api.hooksRate.perSource, timeWindow: 1000 }),
      scope.createRateLimit({ ...kept, max: deps.config.api.hooksRate.global, timeWindow: 1000, keyGenerator: () => 'all-sources' }),
    ];
    // The global share is charged only for requests their source's share let through, so one noisy address cannot spend it.
    scope.addHook('onRequest', async (request, reply) => {
      for (const limit of limits) {
        const state = await limit(request);
        if (state.isAllowed || !state.isExceeded) continue;
        deps.metrics?.[request.url.startsWith('/trigger/') ? 'triggerDelivery' : 'pushDelivery']('rate_limited');
        return reply.code(429).header('retry-after', String(Math.max(1, state.ttlInSeconds))).send({ error: 'too many requests; deliver again after Retry-After seconds' });
      }
      return undefined;
    });
    scope.addHook('onResponse', async (request, reply) => {
      const noted = deliveryNotes.get(request);
      if (noted) deps.deliveries?.record(noted.repo, { ...noted.delivery, status: reply.statusCode });
    });
    // Signatures are computed over the exact bytes received, so bodies stay raw here.
    scope.addContentTypeParser(['application/json', 'application/x-www-form-urlencoded', 'text/plain'], { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (_request, body, done) => done(null, body));

    scope.post('/hooks/:forge/:repo', { bodyLimit: WEBHOOK_BODY_LIMIT }, async (request, reply) => {
      const receivedAtMs = Date.now();
      // Deliveries to a registered repository are kept for its page once answered (the status is known then).
      let noted: { repo: string; delivery: Omit<RecentDelivery, 'status'> } | undefined;
      const counted = (outcome: PushOutcome): FastifyReply => {
        deps.metrics?.pushDelivery(outcome);
        if (noted) noted.delivery.outcome = outcome;
        return reply;
      };
      const { forge: forgeName, repo } = request.params as { forge: string; repo: string };
      const snapshot = await snapshotOr503(reply);
      if (!snapshot) return counted('not_ready');
      const forge = (FORGES as readonly string[]).includes(forgeName) ? (forgeName as Forge) : undefined;
      const config = forge ? snapshot.repos.get(repo) : undefined;
      if (forge && config && deps.deliveries) {
        noted = { repo, delivery: { at: new Date(receivedAtMs).toISOString(), forge, outcome: 'accepted' } };
        deliveryNotes.set(request, noted);
      }
      // Repository webhook secrets are set by an admin with `repo add --secret-env`; any length a forge accepts.
      const secret = config?.webhookSecretEnv ? env[config.webhookSecretEnv] || undefined : undefined;
      // An unknown forge is checked as GitHub would be, so it too costs one HMAC.
      const verified = verifyDelivery(forge ?? 'github', secret, request.headers, rawBody(request));
      if (!verified || !forge || !config) return counted(!forge ? 'unknown_forge' : !config ? 'unknown_repo' : !secret ? 'no_secret' : 'bad_signature').code(401).send(PUSH_REFUSED);

      let payload: unknown;
      try {
        payload = parsePayload(request);
      } catch (error) {
        return counted('malformed').code(400).send({ error: `malformed payload: ${(error as Error).message}` });
      }
      const event = parseForgeEvent(forge, request.headers, payload);
      if (noted) noted.delivery.event = event.kind === 'ignored' ? shownEvent(event.event) : event.kind;
      if (event.kind === 'ping') return counted('ping').code(200).send({ ok: true, pong: true, repo });
      if (event.kind === 'ignored') return counted('ignored_event').code(202).send({ accepted: false, reason: `event ${event.event} is not acted on` });
      if (event.branch !== config.branch) return counted('untracked_branch').code(202).send({ accepted: false, reason: `branch "${event.branch}" is not tracked (tracking "${config.branch}")` });
      const id = deliveryId(forge, request.headers);
      if (noted) Object.assign(noted.delivery, { ...(event.commit ? { commit: event.commit } : {}), ...(id ? { deliveryId: id.slice(forge.length + 1) } : {}) });
      // Hashed: what this process remembers has a fixed size whatever the sender puts in the header.
      const remembered = id ? createHash('sha256').update(`${repo}\n${id}`).digest('base64') : undefined;
      if (remembered && accepted.seenBefore(remembered)) return counted('duplicate').code(200).send({ accepted: false, duplicate: true, reason: 'delivery already processed' });
      try {
        // Noted on disk or handed to Temporal: pushes arriving together share one signal, which the repository workflow turns into one sync of the newest commit.
        await pendingSyncs.accept(repo, { reason: `${forge} push ${event.deleted ? '(branch deleted)' : event.commit.slice(0, 12)}`, ...(id ? { deliveryId: id } : {}), ...(!event.deleted && isCommitSha(event.commit) ? { commit: event.commit } : {}) });
      } catch (error) {
        if (remembered) accepted.forget(remembered);
        if (error instanceof RepoError) {
          // Removed since the registry was loaded: from now on it is unknown, and answered as such.
          cache.invalidate();
          return counted('unknown_repo').code(401).send(PUSH_REFUSED);
        }
        if (!(error instanceof RepoSyncUnavailableError)) throw error;
        request.log.warn({ repo, err: error.message }, 'push not handed to Temporal: answered 503');
        return counted('not_ready').code(503).header('retry-after', String(RETRY_AFTER_SECONDS)).send(BUSY);
      }
      counted('accepted');
      if (!event.deleted) deps.metrics?.pushAccepted(repo, event.commit, receivedAtMs);
      pushAudit.add({ actor: `webhook:${forge}`, via: 'webhook', from: request.ip, action: 'repo.sync', target: repo, outcome: 'ok', detail: `push ${event.deleted ? '(branch deleted)' : event.commit.slice(0, 12)}${id ? `, delivery ${id}` : ''}` });
      return reply.code(202).send({ accepted: true, repo, commit: event.commit, deleted: event.deleted });
    });

    scope.post('/trigger/:repo/:dag', { bodyLimit: WEBHOOK_BODY_LIMIT }, async (request, reply) => {
      const { repo, dag: dagId } = request.params as { repo: string; dag: string };
      const snapshot = await snapshotOr503(reply);
      if (!snapshot) {
        deps.metrics?.triggerDelivery('not_ready');
        return reply;
      }
      // Exact id only: no Temporal query, no compilation, no guessing at a DAG the caller did not name.
      const dag = snapshot.dags.get(`${repo}/${dagId}`);
      const trigger = dag?.triggers?.webhook;
      const check = verifyTrigger({
        secret: usableSecret(trigger?.secretEnv, request.log),
        headers: request.headers,
        rawBody: rawBody(request),
        nowMs: Date.now(),
        windowSeconds: deps.config.api.triggerWindowSeconds,
      });
      // A verified signature implies the DAG and its trigger exist; the metrics still tell the refusals apart.
      if (!check.ok || !dag || !trigger) {
        const refusal = check.ok ? 'bad-signature' : check.refusal;
        deps.metrics?.triggerDelivery(refusal !== 'bad-signature' ? TRIGGER_OUTCOME[refusal] : !dag || !trigger ? 'unknown_dag' : !usableSecret(trigger.secretEnv, request.log) ? 'no_secret' : 'bad_signature');
        return reply.code(401).send(TRIGGER_REFUSED[refusal]);
      }
      return startTriggeredRun(request, reply, deps, dag, trigger.params, check.delivery);
    });
  });
}

async function startTriggeredRun(request: FastifyRequest, reply: FastifyReply, deps: WebhookDependencies, dag: CompiledDag, mapping: Record<string, unknown>, delivery: string): Promise<FastifyReply> {
  // Whoever holds the DAG's trigger secret; the run and the audit trail name the trigger.
  const actor = `trigger:${dag.catalogId}`;
  let payload: unknown;
  try {
    payload = parsePayload(request);
  } catch (error) {
    deps.metrics?.triggerDelivery('malformed');
    return reply.code(400).send({ error: `malformed payload: ${(error as Error).message}` });
  }
  let params: Record<string, unknown>;
  try {
    params = resolveParams(dag.params, renderValue(mapping, { payload }) as Record<string, unknown>);
  } catch (error) {
    deps.metrics?.triggerDelivery('invalid_params');
    if (error instanceof ParamValidationError) return reply.code(400).send({ error: 'invalid params', problems: error.problems });
    return reply.code(400).send({ error: `payload mapping failed: ${(error as Error).message}` });
  }
  try {
    // The delivery id names the run: Temporal refuses a second start of the same id for as long as
    // the namespace retains the first run, which is far longer than the timestamp window.
    // Bounded: a slow Temporal costs the sender a 503 and a redelivery, not a held connection.
    const run = await deps.client.connection.withDeadline(Date.now() + deps.config.api.hooksTemporalTimeoutMs, () =>
      startRun(deps.client, { dag, params, taskQueue: deps.config.taskQueue, runKey: hookRunKey(delivery), startedBy: actor, policyWorkflowId: deps.config.policy.workflowId }),
    );
    deps.metrics?.triggerDelivery('accepted');
    deps.metrics?.runStarted(dag.catalogId, 'trigger', 'trigger');
    await audit(deps, request, { actor, action: 'run.start', target: run.runId, outcome: 'ok', detail: `delivery ${delivery}` });
    return reply.code(202).send({ runId: run.runId });
  } catch (error) {
    // A trigger naming a host no worker announced is the DAG's fault, not the server's: say which.
    if (error instanceof UnknownHostError || error instanceof HostRegistryUnavailableError) {
      await audit(deps, request, { actor, action: 'run.start', target: dag.catalogId, outcome: 'refused', detail: error.message });
      return reply.code(error instanceof UnknownHostError ? 422 : 503).send({ error: error.message });
    }
    if (!(error instanceof RunAlreadyExistsError)) {
      // Authenticated, but Temporal failed or was too slow: the sender redelivers with the same id.
      request.log.warn({ dag: dag.catalogId, err: (error as Error).message }, 'trigger not handed to Temporal: answered 503');
      deps.metrics?.triggerDelivery('not_ready');
      return reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS)).send(BUSY);
    }
    deps.metrics?.triggerDelivery('duplicate');
    await audit(deps, request, { actor, action: 'run.start', target: dag.catalogId, outcome: 'refused', detail: `delivery ${delivery} was already accepted` });
    return reply.code(409).send({ error: `delivery "${delivery}" was already accepted`, duplicate: true });
  }
}
