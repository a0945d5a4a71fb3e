import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { DagCatalog } from '../dag-repos/catalog/composite-catalog';
import { PolicyRepoName, RepoPolicy } from '../dag-repos/schema/repo-policy';
import { approveException, approveVersion, dagVersionHash, DEFAULT_POLICY_REPO, PolicyError, policyForRepo, readPolicies, setPolicy, type PolicyStore } from '../client/repo-policy';
import type { AuditTrail } from './audit-trail';
import { callerOf } from './caller';
import { zodProblems } from '../config/zod-problems';

/**
 * Repository policies over HTTP (docs/repo-policy.md): operators read them, admins set them, approvers
 * approve a securityAllow exception (never its commit's author) or a DAG version for production hosts.
 * Every change and every refusal is audited under the caller's name.
 */

const RepoParam = z.union([PolicyRepoName, z.literal(DEFAULT_POLICY_REPO)]);
const SetBody = z.strictObject({ policy: RepoPolicy });
const ExceptionBody = z.strictObject({ id: z.string().regex(/^[0-9a-f]{16,64}$/, 'an exception id') });
const VersionBody = z.strictObject({ dag: z.string().min(3).max(200), commit: z.string().regex(/^[0-9a-f]{40}$/, 'a full commit SHA').optional() });

function problems(error: z.ZodError): string[] {
  return zodProblems(error, 'body');
}

function refused(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof PolicyError) return reply.code(/^no (policy|exception) /.test(error.message) ? 404 : /needs an approver other than its author/.test(error.message) ? 403 : 409).send({ error: error.message });
  throw error;
}

export function registerPolicyRoutes(app: FastifyInstance, deps: { store: PolicyStore; catalog: () => Promise<DagCatalog>; audit: AuditTrail }): void {
  const { store, audit } = deps;
  const repoOf = (request: FastifyRequest, reply: FastifyReply): string | undefined => {
    const parsed = RepoParam.safeParse((request.params as { repo?: string }).repo);
    if (parsed.success) return parsed.data;
    void reply.code(400).send({ error: 'invalid repository name', problems: problems(parsed.error) });
    return undefined;
  };

  app.get('/api/policies', async () => readPolicies(store));

  app.get('/api/policies/:repo', async (request, reply) => {
    const repo = repoOf(request, reply);
    if (repo === undefined) return reply;
    const state = await readPolicies(store);
    const effective = await policyForRepo(store, repo);
    return { ...effective, stored: state.repos[repo] ?? null, exceptions: state.exceptions.filter((entry) => entry.repo === repo) };
  });

  app.put('/api/policies/:repo', async (request, reply) => {
    const repo = repoOf(request, reply);
    if (repo === undefined) return reply;
    const body = SetBody.safeParse(request.body ?? {});
    if (!body.success) {
      await audit.write(request, { action: 'policy.set', target: `policy/${repo}`, outcome: 'refused', detail: problems(body.error).join('; ') });
      return reply.code(400).send({ error: 'invalid policy', problems: problems(body.error) });
    }
    try {
      const stored = await setPolicy(store, repo, body.data.policy, callerOf(request).user);
      await audit.write(request, { action: 'policy.set', target: `policy/${repo}`, outcome: 'ok', detail: JSON.stringify(body.data.policy) });
      return stored;
    } catch (error) {
      await audit.write(request, { action: 'policy.set', target: `policy/${repo}`, outcome: error instanceof PolicyError ? 'refused' : 'failed', detail: (error as Error).message });
      return refused(reply, error);
    }
  });

  app.delete('/api/policies/:repo', async (request, reply) => {
    const repo = repoOf(request, reply);
    if (repo === undefined) return reply;
    try {
      await setPolicy(store, repo, null, callerOf(request).user);
      await audit.write(request, { action: 'policy.remove', target: `policy/${repo}`, outcome: 'ok' });
      return { removed: repo };
    } catch (error) {
      await audit.write(request, { action: 'policy.remove', target: `policy/${repo}`, outcome: error instanceof PolicyError ? 'refused' : 'failed', detail: (error as Error).message });
      return refused(reply, error);
    }
  });

  app.post('/api/policy-exceptions', async (request, reply) => {
    const body = ExceptionBody.safeParse(request.body ?? {});
    if (!body.success) return reply.code(400).send({ error: 'invalid request body', problems: problems(body.error) });
    const target = `exception/${body.data.id}`;
    try {
      const approved = await approveException(store, { id: body.data.id, by: callerOf(request).user });
      await audit.write(request, { action: 'policy.approve-exception', target, outcome: 'ok', detail: `${approved.repo} ${approved.file} task ${approved.task} rule ${approved.rule} (author ${approved.author.email})` });
      return approved;
    } catch (error) {
      await audit.write(request, { action: 'policy.approve-exception', target, outcome: error instanceof PolicyError ? 'refused' : 'failed', detail: (error as Error).message });
      return refused(reply, error);
    }
  });

  app.post('/api/policy-versions', async (request, reply) => {
    const body = VersionBody.safeParse(request.body ?? {});
    if (!body.success) return reply.code(400).send({ error: 'invalid request body', problems: problems(body.error) });
    const catalog = await deps.catalog();
    const dag = catalog.list().find((candidate) => candidate.id === body.data.dag)?.dag;
    if (!dag) return reply.code(404).send({ error: `no valid DAG ${body.data.dag} in the catalog` });
    const target = `${dag.catalogId}@${dag.origin.commit}`;
    // What is approved is the plan the catalog runs now: a commit other than the live one cannot be judged here.
    if (body.data.commit && body.data.commit !== dag.origin.commit) {
      await audit.write(request, { action: 'policy.approve-version', target, outcome: 'refused', detail: `asked for ${body.data.commit}, live is ${dag.origin.commit}` });
      return reply.code(409).send({ error: `${dag.catalogId} is live at ${dag.origin.commit}, not ${body.data.commit}; sync first or approve the live commit` });
    }
    try {
      const approval = await approveVersion(store, { dag: dag.catalogId, commit: dag.origin.commit, hash: dagVersionHash(dag), by: callerOf(request).user });
      await audit.write(request, { action: 'policy.approve-version', target, outcome: 'ok' });
      return approval;
    } catch (error) {
      await audit.write(request, { action: 'policy.approve-version', target, outcome: error instanceof PolicyError ? 'refused' : 'failed', detail: (error as Error).message });
      return refused(reply, error);
    }
  });
}
