import type { FastifyInstance } from 'fastify';
import { loadOrCreateApiToken } from './auth';
import { buildApiServer, type ApiDependencies } from './server';

/** What `startApi` needs: the server's dependencies but the bootstrap token, which it loads or creates. */
export type ApiStartOptions = Omit<ApiDependencies, 'token'>;

/** A listening API and where its bootstrap token came from (for the start-up banner). */
export interface StartedApi {
  server: FastifyInstance;
  tokenSource: string;
}

/**
 * The API's entry module, the only part of api/ the CLI reaches: loads or creates the bootstrap
 * token, builds the server and listens on the configured address.
 */
export async function startApi(options: ApiStartOptions): Promise<StartedApi> {
  const { token, source } = loadOrCreateApiToken(options.config.api);
  const server = buildApiServer({ ...options, token });
  await server.listen({ host: options.config.api.host, port: options.config.api.port });
  return { server, tokenSource: source };
}
