import type { Client } from '@temporalio/client';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { QubinodeConfig } from '../config/config';
import { loadCatalog } from '../client/catalog';
import { getRepo, RepoError, requestSync } from '../client/repos';
import { RunAlreadyExistsError, startRun } from '../client/runs';
import type { ActionRegistry } from '../dag-repos/actions/registry';
import { UnknownDagError } from '../dag-repos/catalog/local-catalog';
import { renderValue } from '../dag-repos/expressions';
import { deliveryId, hmacSignature, parseForgeEvent, verifyDelivery, type Forge } from '../dag-repos/git/webhook-verify';
import { ParamValidationError, resolveParams } from '../dag-repos/schema/params';
import { tokensMatch } from './auth';

export interface WebhookDependencies {
  config: QubinodeConfig;
  client: Client;
  registry: ActionRegistry;
  env?: NodeJS.ProcessEnv;
}

const FORGES: readonly Forge[] = ['github', 'gitlab', 'bitbucket'];
export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

function parsePayload(request: FastifyRequest): unknown {
  const raw = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
  const text = raw.toString('utf8');
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

/** Webhook receivers: forge pushes (`/hooks/<forge>/<repo>`) and DAG triggers (`/trigger/<repo>/<dag>`). Signatures first, always. */
export async function registerWebhookRoutes(app: FastifyInstance, deps: WebhookDependencies): Promise<void> {
  const env = deps.env ?? process.env;
  await app.register(async (scope) => {
    // Signatures are computed over the exact bytes received, so bodies stay raw here.
    scope.addContentTypeParser(['application/json', 'application/x-www-form-urlencoded', 'text/plain'], { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (_request, body, done) => done(null, body));

    scope.post('/hooks/:forge/:repo', { bodyLimit: WEBHOOK_BODY_LIMIT }, async (request, reply) => {
      const { forge, repo } = request.params as { forge: string; repo: string };
      if (!(FORGES as readonly string[]).includes(forge)) return reply.code(404).send({ error: `unknown forge "${forge}"; use github, gitlab or bitbucket` });
      let view;
      try {
        view = await getRepo(deps.client, repo);
      } catch (error) {
        if (error instanceof RepoError) return reply.code(404).send({ error: `unknown repository "${repo}"` });
        throw error;
      }
      const secret = view.config.webhookSecretEnv ? env[view.config.webhookSecretEnv] : undefined;
      if (!secret) return reply.code(401).send({ error: 'this repository has no webhook secret configured (repo add --secret-env VAR, with VAR set for the API)' });
      if (!verifyDelivery(forge as Forge, secret, request.headers, rawBody(request))) return reply.code(401).send({ error: 'signature or token does not match' });
      let payload: unknown;
      try {
        payload = parsePayload(request);
      } catch (error) {
        return reply.code(400).send({ error: `malformed payload: ${(error as Error).message}` });
      }
      const event = parseForgeEvent(forge as Forge, request.headers, payload);
      if (event.kind === 'ping') return reply.code(200).send({ ok: true, pong: true, repo });
      if (event.kind === 'ignored') return reply.code(202).send({ accepted: false, reason: `event ${event.event} is not acted on` });
      if (event.branch !== view.config.branch) return reply.code(202).send({ accepted: false, reason: `branch "${event.branch}" is not tracked (tracking "${view.config.branch}")` });
      const id = deliveryId(forge as Forge, request.headers);
      const answer = await requestSync(deps.client, repo, { reason: `${forge} push ${event.deleted ? '(branch deleted)' : event.commit.slice(0, 12)}`, ...(id ? { deliveryId: id } : {}) });
      if (answer.duplicate) return reply.code(200).send({ accepted: false, duplicate: true, reason: 'delivery already processed' });
      return reply.code(202).send({ accepted: true, repo, commit: event.commit, deleted: event.deleted });
    });

    scope.post('/trigger/:repo/:dag', { bodyLimit: WEBHOOK_BODY_LIMIT }, async (request, reply) => handleTrigger(request, reply, deps, env));
  });
}

async function handleTrigger(request: FastifyRequest, reply: FastifyReply, deps: WebhookDependencies, env: NodeJS.ProcessEnv): Promise<FastifyReply> {
  const { repo, dag: dagId } = request.params as { repo: string; dag: string };
  const { catalog } = await loadCatalog(deps.config, deps.registry, deps.client);
  let dag;
  try {
    dag = catalog.get(`${repo}/${dagId}`).dag;
  } catch (error) {
    if (error instanceof UnknownDagError) return reply.code(404).send({ error: `unknown DAG "${repo}/${dagId}"` });
    throw error;
  }
  const trigger = dag?.triggers?.webhook;
  if (!dag || !trigger) return reply.code(404).send({ error: `DAG "${repo}/${dagId}" has no on.webhook trigger` });
  const secret = env[trigger.secretEnv];
  const signature = String(request.headers['x-qubinode-signature-256'] ?? '');
  if (!secret || !tokensMatch(signature, hmacSignature(secret, rawBody(request)))) return reply.code(401).send({ error: 'signature does not match (X-Qubinode-Signature-256: sha256=<HMAC of the body>)' });
  let payload: unknown;
  try {
    payload = parsePayload(request);
  } catch (error) {
    return reply.code(400).send({ error: `malformed payload: ${(error as Error).message}` });
  }
  let params: Record<string, unknown>;
  try {
    params = resolveParams(dag.params, renderValue(trigger.params, { payload }) as Record<string, unknown>);
  } catch (error) {
    if (error instanceof ParamValidationError) return reply.code(400).send({ error: 'invalid params', problems: error.problems });
    return reply.code(400).send({ error: `payload mapping failed: ${(error as Error).message}` });
  }
  const delivery = String(request.headers['x-qubinode-delivery'] ?? '').replace(/[^A-Za-z0-9._-]/g, '').slice(0, 60);
  try {
    const run = await startRun(deps.client, { dag, params, taskQueue: deps.config.taskQueue, ...(delivery ? { runKey: `hook-${delivery}` } : {}) });
    return reply.code(202).send({ runId: run.runId });
  } catch (error) {
    if (error instanceof RunAlreadyExistsError) return reply.code(200).send({ duplicate: true, reason: error.message });
    throw error;
  }
}
