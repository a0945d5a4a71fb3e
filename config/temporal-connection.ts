// How both sides reach Temporal from validated settings (TLS files, API key): the client (CLI, API) and
// the workers, which also make client calls of their own (host announcements, policy reads, run starts).
import { readFileSync } from 'node:fs';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import type { TemporalSettings } from './config';

function tlsOptions(settings: TemporalSettings): ConnectionOptions['tls'] {
  const tls = settings.tls;
  if (!tls) return settings.apiKey ? true : undefined;
  return {
    ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
    ...(tls.caPath ? { serverRootCACertificate: readFileSync(tls.caPath) } : {}),
    ...(tls.certPath && tls.keyPath ? { clientCertPair: { crt: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) } } : {}),
  };
}

/** Connection options for the client and the worker, from validated settings (TLS files, API key). */
export function connectionOptions(settings: TemporalSettings): { address: string; tls?: ConnectionOptions['tls']; apiKey?: string } {
  const tls = tlsOptions(settings);
  return {
    address: settings.address,
    ...(tls ? { tls } : {}),
    ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
  };
}

export interface TemporalClient {
  client: Client;
  connection: Connection;
  close(): Promise<void>;
}

export async function connectClient(settings: TemporalSettings): Promise<TemporalClient> {
  const connection = await Connection.connect({ ...connectionOptions(settings), connectTimeout: '5s' });
  const client = new Client({ connection, namespace: settings.namespace });
  return { client, connection, close: () => connection.close() };
}
