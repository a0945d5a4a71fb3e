import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { QubinodeConfig } from '../config/config';
import type { Logger } from '../config/logger';
import { prepareRun } from '../client/prepare-run';
import { normaliseRunId } from '../client/run-ids';
import { cancelRun, getRunStatus, listRuns, RunAlreadyExistsError, RunNotFoundError, startRun } from '../client/runs';
import { runUrl } from '../client/ui-links';
import type { ActionRegistry } from '../dag-repos/actions/registry';
import { catalogLoader } from '../client/catalog';
import type { DagCatalog } from '../dag-repos/catalog/composite-catalog';
import { UnknownDagError } from '../dag-repos/catalog/local-catalog';
import { DagValidationError } from '../dag-repos/compiler/diagnostics';
import { ParamValidationError } from '../dag-repos/schema/params';
import { recordAudit, listAudit } from '../client/audit';
import { readIdentity } from '../client/identity';
import { AuditTrail, type AuditRecorder } from './audit-trail';
import { callerOf, wildcardParam } from './caller';
import { installGuard } from './guard';
import { IdentityCache } from './identity-cache';
import { registerIdentityRoutes } from './identity-routes';
import { registerPolicyRoutes } from './policy-routes';
import { VersionApprovalNeededError } from '../client/repo-policy';
import { createOidcVerifier, oidcKeys } from './oidc';
import { OidcLogin, registerOidcLoginRoutes } from './oidc-login';
import { requestLogSerializer } from './request-log';
import { registerRunControlRoutes } from './run-control';
import { registerCatalogRoutes } from './catalog-routes';
import { registerHostRoutes } from './host-routes';
import { registerStatsRoutes } from './stats-routes';
import { HostRegistryUnavailableError, UnknownHostError } from '../client/hosts';
import { sendRunLogs } from './run-logs';
import { createCatalogCache } from './catalog-cache';
import { registerWebhookRoutes } from './webhooks';
import { createApiMetrics, registerMetricsRoute } from './metrics';
import { registerUiAssets } from './ui-assets';
import { memoisedUiBundle } from './ui-build';
import { RecentDeliveries } from './recent-deliveries';
import { installRequestTurns } from './request-turns';
import { BrowserSessions, registerUiSessionRoutes } from './ui-session';
import { z } from 'zod';
import { zodProblems } from '../config/zod-problems';

export interface ApiDependencies {
  config: QubinodeConfig;
  logger: Logger;
  client: Client;
  registry: ActionRegistry;
  /** The shared bootstrap token: authenticates as the admin `bootstrap-admin`. */
  token: string;
  /** Where audit entries go (default: the audit log in Temporal, client/audit.ts). */
  recordAudit?: AuditRecorder;
  /** How old the API's copy of users and tokens may grow before it is read again. */
  identityMaxAgeMs?: number;
  /** The web page's entry module (default api/ui/page/main.tsx); tests give a stand-in. */
  /** Sign-in attempts per source address and minute at POST /ui/session (default 30). */
  signInAttemptsPerMinute?: number;
  uiEntry?: string;
}

const StartRunBody = z
  .object({
    dag: z.string().min(1),
    params: z.record(z.string(), z.unknown()).default({}),
    runKey: z.string().regex(/^[A-Za-z0-9._-]{1,80}$/, 'letters, digits, ".", "_" or "-"').optional(),
  })
  .strict();

function sendError(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof UnknownDagError || error instanceof RunNotFoundError) return reply.code(404).send({ error: error.message });
  if (error instanceof ParamValidationError) return reply.code(400).send({ error: 'invalid params', problems: error.problems });
  if (error instanceof DagValidationError) return reply.code(422).send({ error: 'invalid DAG', diagnostics: error.diagnostics });
  if (error instanceof RunAlreadyExistsError) return reply.code(409).send({ error: error.message });
  if (error instanceof UnknownHostError) return reply.code(422).send({ error: error.message });
  if (error instanceof VersionApprovalNeededError) return reply.code(409).send({ error: error.message });
  if (error instanceof HostRegistryUnavailableError) return reply.code(503).send({ error: error.message });
  throw error;
}

const ListQuery = z.object({
  dag: z.string().max(300).optional(),
  status: z.string().max(40).optional(),
  startedBy: z.string().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const AuditQuery = z.object({
  since: z.string().datetime({ offset: true }).optional(),
  user: z.string().max(128).optional(),
  action: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/**
 * The HTTP API: health, DAG catalog, runs, approvals, users and tokens, audit. Every route is
 * authorised by its matched route and the caller's roles (api/route-policy.ts, api/guard.ts).
 */
export function buildApiServer(deps: ApiDependencies): FastifyInstance {
  const app: FastifyInstance = Fastify({
    // The sign-in callback's URL carries a code and state: request log lines show their names, not their values.
    loggerInstance: deps.logger.child({ component: 'api' }, { serializers: { req: requestLogSerializer } }) as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    // Request ids are ours: an inbound X-Request-Id is never echoed into logs or answers.
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // One spelling per route: no case folding, no trailing or doubled slashes.
    routerOptions: { caseSensitive: true, ignoreTrailingSlash: false, ignoreDuplicateSlashes: false },
  });
  // First of all hooks: a burst on open connections must not keep new ones from being accepted (api/request-turns.ts).
  installRequestTurns(app);
  // One catalog per process for the webhooks and the API alike, so no request compiles the catalog itself.
  const catalogCache = createCatalogCache({ load: catalogLoader(deps.config, deps.registry, deps.client), onError: (error) => app.log.error({ err: error }, 'catalog load failed') });
  app.addHook('onClose', async () => catalogCache.close());
  const metrics = createApiMetrics({
    client: deps.client,
    // The catalog as last loaded: a scrape never compiles it.
    dagIds: async () => (await catalogCache.latest()).catalog.list().map((entry) => entry.id),
    onError: (error) => app.log.warn({ err: error }, 'run counts for /metrics could not be read'),
  });
  app.addHook('onClose', async () => metrics.close());
  const catalog = async (): Promise<DagCatalog> => (await catalogCache.fresh()).catalog;
  const store = { client: deps.client, workflowId: deps.config.identity.workflowId, taskQueue: deps.config.taskQueue };
  const identities = new IdentityCache(() => readIdentity(store), deps.identityMaxAgeMs ?? 2000);
  const oidcSettings = deps.config.identity.oidc;
  const oidcKeySet = oidcSettings ? oidcKeys(oidcSettings) : undefined;
  const oidc = oidcSettings && oidcKeySet ? createOidcVerifier(oidcSettings, oidcKeySet) : undefined;
  const oidcLogin = oidcSettings?.login && oidcKeySet ? new OidcLogin({ ...oidcSettings, login: oidcSettings.login }, oidcKeySet) : undefined;
  const audit = new AuditTrail(deps.client, deps.recordAudit ?? recordAudit, app.log);
  const authenticators = { bootstrapToken: deps.token, identities, ...(oidc ? { oidc } : {}), ...(oidcLogin ? { oidcLogin } : {}) };
  const browser = { sessions: new BrowserSessions(), ...(deps.config.api.publicOrigin ? { publicOrigin: deps.config.api.publicOrigin } : {}) };
  installGuard(app, authenticators, audit, browser);

  const temporalReachable = (): Promise<string> =>
    deps.client.connection
      // A health check must answer promptly even when Temporal does not.
      .withDeadline(Date.now() + 3000, () => deps.client.connection.workflowService.getSystemInfo({}))
      .then(() => 'ok')
      .catch((error: Error) => `unreachable: ${error.message}`);

  // Strangers learn only whether the service is up.
  app.get('/healthz', async (_request, reply) => ((await temporalReachable()) === 'ok' ? { status: 'ok' } : reply.code(503).send({ status: 'unavailable' })));

  app.get('/api/health', async () => ({ status: 'ok', temporal: await temporalReachable(), taskQueue: deps.config.taskQueue }));

  app.get('/api/dags', async () =>
    (await catalog())
      .list()
      // `needs` (tasks with dependencies only) lets the catalog page draw each DAG's graph from the listing alone.
      .map(({ dag, ...entry }) => ({ ...entry, tasks: dag?.tasks.map((task) => task.id) ?? [], needs: Object.fromEntries((dag?.tasks ?? []).filter((task) => task.needs.length > 0).map((task) => [task.id, task.needs])), params: dag?.params ?? {} })),
  );

  app.post('/api/runs', async (request, reply) => {
    const body = StartRunBody.safeParse(request.body ?? {});
    if (!body.success) return reply.code(400).send({ error: 'invalid request body', problems: zodProblems(body.error, 'body') });
    const caller = callerOf(request);
    try {
      // Only catalog DAGs: an API caller must never make the server read a file by path.
      const prepared = prepareRun(await catalog(), deps.registry, body.data.dag, body.data.params, { allowFiles: false });
      const started = await startRun(deps.client, { ...prepared, taskQueue: deps.config.taskQueue, startedBy: caller.user, policyWorkflowId: deps.config.policy.workflowId, ...(body.data.runKey ? { runKey: body.data.runKey } : {}) });
      metrics.runStarted(prepared.dag.catalogId, 'api', caller.user);
      await audit.write(request, { action: 'run.start', target: started.runId, outcome: 'ok' });
      return reply.code(201).send({ runId: started.runId, status: 'running', url: runUrl(deps.config.temporal, started.runId) });
    } catch (error) {
      await audit.write(request, { action: 'run.start', target: body.data.dag, outcome: 'failed', detail: (error as Error).message });
      return sendError(reply, error);
    }
  });

  app.get('/api/runs', async (request, reply) => {
    const query = ListQuery.safeParse(request.query ?? {});
    if (!query.success) return reply.code(400).send({ error: 'invalid query', problems: zodProblems(query.error, '') });
    const { dag, status, startedBy, limit } = query.data;
    return listRuns(deps.client, { ...(dag ? { dag } : {}), ...(status ? { status } : {}), ...(startedBy ? { startedBy } : {}), limit });
  });

  app.get('/api/audit', async (request, reply) => {
    const query = AuditQuery.safeParse(request.query ?? {});
    if (!query.success) return reply.code(400).send({ error: 'invalid query', problems: zodProblems(query.error, '') });
    const { since, user, action, limit } = query.data;
    return listAudit(deps.client, { ...(since ? { since: new Date(since) } : {}), ...(user ? { user } : {}), ...(action ? { action } : {}), limit });
  });

  // Run ids hold slashes (dag/examples/hello/KEY): accepted raw or percent-encoded.
  app.get('/api/runs/*', async (request, reply) => {
    const rest = wildcardParam(request);
    // `<run id>/logs`: the run's task logs, read on the workers that wrote them (api/run-logs.ts).
    if (rest.endsWith('/logs')) return sendRunLogs(deps.client, normaliseRunId(rest.slice(0, -'/logs'.length)), request.query, reply);
    const runId = normaliseRunId(rest);
    try {
      const status = await getRunStatus(deps.client, runId);
      return { ...status, status: status.state };
    } catch (error) {
      return sendError(reply, error);
    }
  });

  app.post('/api/runs/*', async (request, reply) => {
    const rest = wildcardParam(request);
    if (!rest.endsWith('/cancel')) return reply.code(404).send({ error: 'POST /api/runs/:id/cancel is the only action on a run' });
    const target = normaliseRunId(rest.slice(0, -'/cancel'.length));
    try {
      const runId = await cancelRun(deps.client, target);
      await audit.write(request, { action: 'run.cancel', target: runId, outcome: 'ok' });
      return reply.code(202).send({ runId, status: 'cancelling' });
    } catch (error) {
      await audit.write(request, { action: 'run.cancel', target, outcome: error instanceof RunNotFoundError ? 'refused' : 'failed', detail: (error as Error).message });
      return sendError(reply, error);
    }
  });

  const deliveries = new RecentDeliveries();
  void app.register(async (scope) => registerWebhookRoutes(scope, { ...deps, catalogCache, metrics, deliveries }));
  registerMetricsRoute(app, metrics);
  registerRunControlRoutes(app, { client: deps.client, audit });
  registerIdentityRoutes(app, { store, audit });
  registerPolicyRoutes(app, { store: { client: deps.client, workflowId: deps.config.policy.workflowId, taskQueue: deps.config.taskQueue }, catalog, audit });
  registerCatalogRoutes(app, { client: deps.client, catalog, audit, deliveries });
  registerHostRoutes(app, { client: deps.client });
  registerStatsRoutes(app, { client: deps.client });
  const ssoRoutes = { moreSignInRoutes: (scope: FastifyInstance) => registerOidcLoginRoutes(scope, { login: oidcLogin, sessions: browser.sessions, audit, publicOrigin: browser.publicOrigin }) };
  registerUiSessionRoutes(app, { ...browser, auth: authenticators, audit, temporal: { uiUrl: deps.config.temporal.uiUrl, namespace: deps.config.temporal.namespace }, ...(deps.signInAttemptsPerMinute ? { signInAttemptsPerMinute: deps.signInAttemptsPerMinute } : {}), ...ssoRoutes });
  registerUiAssets(app, memoisedUiBundle(deps.uiEntry));
  return app;
}
