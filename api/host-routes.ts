import type { Client } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { HostRegistryUnavailableError, listHosts } from '../client/hosts';

/** `GET /api/hosts`: every known host queue with its pollers now, its worker's report and its state (docs/hosts.md). */
export function registerHostRoutes(app: FastifyInstance, deps: { client: Client }): void {
  app.get('/api/hosts', async (_request, reply) => {
    try {
      return await listHosts(deps.client);
    } catch (error) {
      if (error instanceof HostRegistryUnavailableError) return reply.code(503).send({ error: error.message });
      throw error;
    }
  });
}
