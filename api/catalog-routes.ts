import type { Client } from '@temporalio/client';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { getRepo, listRepos, RepoError, syncAndWait } from '../client/repos';
import type { DagCatalog } from '../dag-repos/catalog/composite-catalog';
import { UnknownDagError } from '../dag-repos/catalog/local-catalog';
import type { CompiledDag } from '../dag-repos/compiler/compiled-dag';
import type { AuditTrail } from './audit-trail';
import { wildcardParam } from './caller';
import type { RecentDeliveries } from './recent-deliveries';

/**
 * One DAG of the catalog, and the registered Git repositories (list, show, sync now): what an
 * operator's CLI reads through the API instead of asking Temporal.
 */

/** Repository names as RepoConfig allows them; anything else is refused before it reaches a workflow id. */
const REPO_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const CATALOG_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\/[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Secret params may carry defaults; a reader of the catalog sees that one exists, not its value. */
function withSecretDefaultsMasked(dag: CompiledDag): CompiledDag {
  const params = Object.fromEntries(Object.entries(dag.params).map(([name, spec]) => [name, spec.secret && spec.default !== undefined ? { ...spec, default: '***' } : spec]));
  return { ...dag, params };
}

function repoName(params: unknown, reply: FastifyReply): string | undefined {
  const { name } = params as { name?: string };
  if (typeof name === 'string' && REPO_NAME.test(name)) return name;
  void reply.code(400).send({ error: 'a repository name is letters, digits, ".", "_" or "-" (at most 64)' });
  return undefined;
}

function repoRefusal(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof RepoError) return reply.code(/^no repository/.test(error.message) ? 404 : 504).send({ error: error.message });
  throw error;
}

export function registerCatalogRoutes(app: FastifyInstance, deps: { client: Client; catalog: () => Promise<DagCatalog>; audit: AuditTrail; deliveries?: RecentDeliveries }): void {
  // Catalog ids hold one slash (<repo>/<dag id>): GET /api/dags/<repo>/<dag id>.
  app.get('/api/dags/*', async (request, reply) => {
    const id = wildcardParam(request);
    if (!CATALOG_ID.test(id)) return reply.code(400).send({ error: 'a DAG id is <repo>/<dag id>: letters, digits, ".", "_" or "-"' });
    try {
      const entry = (await deps.catalog()).get(id);
      if (!entry.dag) return reply.code(422).send({ error: 'invalid DAG', diagnostics: entry.diagnostics });
      return withSecretDefaultsMasked(entry.dag);
    } catch (error) {
      if (error instanceof UnknownDagError) return reply.code(404).send({ error: error.message });
      throw error;
    }
  });

  // Each with the last deliveries this process received for it, newest first (the web page's repositories view).
  app.get('/api/repos', async () => (await listRepos(deps.client)).map((repo) => ({ ...repo, deliveries: deps.deliveries?.list(repo.config.name) ?? [] })));

  app.get('/api/repos/:name', async (request, reply) => {
    const name = repoName(request.params, reply);
    if (name === undefined) return reply;
    try {
      return { ...(await getRepo(deps.client, name)), deliveries: deps.deliveries?.list(name) ?? [] };
    } catch (error) {
      return repoRefusal(reply, error);
    }
  });

  app.post('/api/repos/:name/sync', async (request, reply) => {
    const name = repoName(request.params, reply);
    if (name === undefined) return reply;
    try {
      const record = await syncAndWait(deps.client, name);
      await deps.audit.write(request, { action: 'repo.sync', target: name, outcome: 'ok', detail: `${record.state} ${record.commit.slice(0, 12)}`.trim() });
      return record;
    } catch (error) {
      await deps.audit.write(request, { action: 'repo.sync', target: name, outcome: error instanceof RepoError && /^no repository/.test(error.message) ? 'refused' : 'failed', detail: (error as Error).message });
      return repoRefusal(reply, error);
    }
  });
}
