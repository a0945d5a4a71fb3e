import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { addUser, IdentityError, issueToken, readIdentity, removeUser, revokeToken, setUserDisabled, setUserRoles, tokenViews, type IdentityStore } from '../client/identity';
import type { AuditTrail } from './audit-trail';
import { callerOf, ROLES } from './caller';
import { zodProblems } from '../config/zod-problems';

/** Users and personal tokens over HTTP (admin only, see api/route-policy.ts); every change is audited. */

const NewUser = z.strictObject({ name: z.string().min(1).max(64), roles: z.array(z.enum(ROLES)).min(1).max(ROLES.length) });
const UserChange = z.strictObject({ roles: z.array(z.enum(ROLES)).min(1).max(ROLES.length).optional(), disabled: z.boolean().optional() }).refine((change) => change.roles !== undefined || change.disabled !== undefined, 'give roles or disabled');
const NewToken = z.strictObject({ user: z.string().min(1).max(64), expires: z.string().max(8).optional(), description: z.string().max(200).optional() });

function problems(error: z.ZodError): string[] {
  return zodProblems(error, 'body');
}

function refused(reply: FastifyReply, error: unknown): FastifyReply {
  if (error instanceof IdentityError) return reply.code(/^no (user|token) /.test(error.message) ? 404 : /already/.test(error.message) ? 409 : 400).send({ error: error.message });
  throw error;
}

export function registerIdentityRoutes(app: FastifyInstance, deps: { store: IdentityStore; audit: AuditTrail }): void {
  const { store, audit } = deps;

  app.get('/api/whoami', async (request) => {
    const { user, roles, via } = callerOf(request);
    return { user, roles, via };
  });

  app.get('/api/users', async () => (await readIdentity(store)).users);

  app.post('/api/users', async (request, reply) => {
    const body = NewUser.safeParse(request.body ?? {});
    if (!body.success) return reply.code(400).send({ error: 'invalid request body', problems: problems(body.error) });
    const target = `user/${body.data.name}`;
    try {
      const user = await addUser(store, body.data.name, body.data.roles);
      await audit.write(request, { action: 'user.add', target, outcome: 'ok', detail: `roles ${user.roles.join(',')}` });
      return reply.code(201).send(user);
    } catch (error) {
      await audit.write(request, { action: 'user.add', target, outcome: error instanceof IdentityError ? 'refused' : 'failed', detail: (error as Error).message });
      return refused(reply, error);
    }
  });

  app.patch('/api/users/:name', async (request, reply) => {
    const { name } = request.params as { name: string };
    const body = UserChange.safeParse(request.body ?? {});
    if (!body.success) return reply.code(400).send({ error: 'invalid request body', problems: problems(body.error) });
    const target = `user/${name}`;
    try {
      let user = body.data.roles ? await setUserRoles(store, name, body.data.roles) : undefined;
      if (body.data.disabled !== undefined) user = await setUserDisabled(store, name, body.data.disabled);
      await audit.write(request, { action: 'user.change', target, outcome: 'ok', detail: `roles ${user?.roles.join(',')}${user?.disabled ? ', disabled' : ''}` });
      return user;
    } catch (error) {
      await audit.write(request, { action: 'user.change', target, outcome: error instanceof IdentityError ? 'refused' : 'failed', detail: (error as Error).message });
      return refused(reply, error);
    }
  });

  app.delete('/api/users/:name', async (request, reply) => {
    const { name } = request.params as { name: string };
    try {
      const removed = await removeUser(store, name);
      await audit.write(request, { action: 'user.remove', target: `user/${name}`, outcome: 'ok', detail: `revoked tokens ${removed.revokedTokens.join(',') || 'none'}` });
      return removed;
    } catch (error) {
      await audit.write(request, { action: 'user.remove', target: `user/${name}`, outcome: error instanceof IdentityError ? 'refused' : 'failed', detail: (error as Error).message });
      return refused(reply, error);
    }
  });

  app.get('/api/tokens', async (request) => {
    const { user } = request.query as { user?: string };
    return tokenViews(await readIdentity(store), typeof user === 'string' ? { user } : {});
  });

  app.post('/api/tokens', async (request, reply) => {
    const body = NewToken.safeParse(request.body ?? {});
    if (!body.success) return reply.code(400).send({ error: 'invalid request body', problems: problems(body.error) });
    const target = `user/${body.data.user}`;
    try {
      const issued = await issueToken(store, { user: body.data.user, ...(body.data.expires ? { lifetime: body.data.expires } : {}), ...(body.data.description ? { description: body.data.description } : {}) });
      await audit.write(request, { action: 'token.issue', target, outcome: 'ok', detail: `token ${issued.record.id} expires ${issued.record.expires}` });
      const { hash: _hash, ...record } = issued.record;
      return reply.code(201).send({ ...record, token: issued.token });
    } catch (error) {
      await audit.write(request, { action: 'token.issue', target, outcome: error instanceof IdentityError ? 'refused' : 'failed', detail: (error as Error).message });
      if (error instanceof IdentityError && /^lifetime /.test(error.message)) return reply.code(400).send({ error: error.message });
      return refused(reply, error);
    }
  });

  app.delete('/api/tokens/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    try {
      const { hash: _hash, ...record } = await revokeToken(store, id);
      await audit.write(request, { action: 'token.revoke', target: `token/${id}`, outcome: 'ok', detail: `of user ${record.user}` });
      return record;
    } catch (error) {
      await audit.write(request, { action: 'token.revoke', target: `token/${id}`, outcome: error instanceof IdentityError ? 'refused' : 'failed', detail: (error as Error).message });
      return refused(reply, error);
    }
  });
}
