import type { Client } from '@temporalio/client';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { QubinodeConfig } from '../config/config';
import type { Logger } from '../config/logger';
import { prepareRun } from '../client/prepare-run';
import { normaliseRunId } from '../client/run-ids';
import { cancelRun, getRunStatus, listRuns, RunAlreadyExistsError, RunNotFoundError, startRun } from '../client/runs';
import { runUrl } from '../client/ui-links';
import type { ActionRegistry } from '../dag-repos/actions/registry';
import { loadCatalog } from '../client/catalog';
import type { DagCatalog } from '../dag-repos/catalog/composite-catalog';
import { UnknownDagError } from '../dag-repos/catalog/local-catalog';
import { DagValidationError } from '../dag-repos/compiler/diagnostics';
import { ParamValidationError } from '../dag-repos/schema/params';
import { bearerToken, tokensMatch } from './auth';
import { registerRunControlRoutes } from './run-control';
import { registerWebhookRoutes } from './webhooks';
import { z } from 'zod';

export interface ApiDependencies {
  config: QubinodeConfig;
  logger: Logger;
  client: Client;
  registry: ActionRegistry;
  token: string;
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
  throw error;
}

/** The HTTP API: health, DAG catalog, runs. Everything under /api needs the bearer token. */
export function buildApiServer(deps: ApiDependencies): FastifyInstance {
  const app: FastifyInstance = Fastify({ loggerInstance: deps.logger.child({ component: 'api' }) as FastifyBaseLogger, bodyLimit: 1024 * 1024 });
  const catalog = async (): Promise<DagCatalog> => (await loadCatalog(deps.config, deps.registry, deps.client)).catalog;

  app.addHook('onRequest', async (request, reply) => {
    if (!request.url.startsWith('/api/')) return;
    const given = bearerToken(request.headers.authorization);
    if (!given || !tokensMatch(given, deps.token)) {
      await reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing or invalid bearer token' });
    }
  });

  app.get('/healthz', async () => {
    const temporal = await deps.client.connection.workflowService
      .getSystemInfo({})
      .then(() => 'ok')
      .catch((error: Error) => `unreachable: ${error.message}`);
    return { status: 'ok', temporal, taskQueue: deps.config.taskQueue };
  });

  app.get('/api/dags', async () =>
    (await catalog())
      .list()
      .map(({ dag, ...entry }) => ({ ...entry, tasks: dag?.tasks.map((task) => task.id) ?? [], params: dag?.params ?? {} })),
  );

  app.post('/api/runs', async (request, reply) => {
    const body = StartRunBody.safeParse(request.body ?? {});
    if (!body.success) return reply.code(400).send({ error: 'invalid request body', problems: body.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`) });
    try {
      // Only catalog DAGs: an API caller must never make the server read a file by path.
      const prepared = prepareRun(await catalog(), deps.registry, body.data.dag, body.data.params, { allowFiles: false });
      const started = await startRun(deps.client, { ...prepared, taskQueue: deps.config.taskQueue, ...(body.data.runKey ? { runKey: body.data.runKey } : {}) });
      return reply.code(201).send({ runId: started.runId, status: 'running', url: runUrl(deps.config.temporal, started.runId) });
    } catch (error) {
      return sendError(reply, error);
    }
  });

  app.get('/api/runs', async (request) => {
    const query = request.query as { dag?: string; status?: string; limit?: string };
    return listRuns(deps.client, { ...(query.dag ? { dag: query.dag } : {}), ...(query.status ? { status: query.status } : {}), limit: Math.min(500, Number(query.limit ?? 50) || 50) });
  });

  // Run ids hold slashes (dag/examples/hello/KEY): accepted raw or percent-encoded.
  app.get('/api/runs/*', async (request, reply) => {
    const runId = normaliseRunId(decodeURIComponent((request.params as { '*': string })['*']));
    try {
      const status = await getRunStatus(deps.client, runId);
      return { ...status, status: status.state };
    } catch (error) {
      return sendError(reply, error);
    }
  });

  app.post('/api/runs/*', async (request, reply) => {
    const rest = decodeURIComponent((request.params as { '*': string })['*']);
    if (!rest.endsWith('/cancel')) return reply.code(404).send({ error: 'POST /api/runs/:id/cancel is the only action on a run' });
    try {
      const runId = await cancelRun(deps.client, normaliseRunId(rest.slice(0, -'/cancel'.length)));
      return reply.code(202).send({ runId, status: 'cancelling' });
    } catch (error) {
      return sendError(reply, error);
    }
  });

  void app.register(async (scope) => registerWebhookRoutes(scope, deps));
  registerRunControlRoutes(app, deps);
  return app;
}
