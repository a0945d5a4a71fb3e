/**
 * Prepares the namespace of a Temporal cluster for Qubinode: registers it when missing, registers the
 * project's search attributes, and waits until a visibility query on them answers. Idempotent.
 *
 *   node --import tsx infra/production/prepare-namespace.ts
 *
 * Reads the same settings as every other process (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS_*),
 * so it proves the client certificate works before anything else starts. start-temporal.sh runs it.
 */
import { isGrpcServiceError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { loadConfig } from '../../config/config';
import { connectClient } from '../../config/temporal-connection';
import { registerSearchAttributes } from '../search-attributes';
import { SEARCH_ATTRIBUTE_NAMES } from '../temporal-dev-server';

const RETENTION_DAYS = Number(process.env.QUBINODE_PROD_RETENTION_DAYS ?? '30');
const READY_WITHIN_MS = 120_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** gRPC status ALREADY_EXISTS (the SDK re-exports no status enum). */
const ALREADY_EXISTS = 6;

/** Retries `step` while the cluster is still coming up (unavailable, namespace not yet in its cache). */
async function eventually<T>(what: string, step: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + READY_WITHIN_MS;
  for (;;) {
    try {
      return await step();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`${what}: still failing after ${READY_WITHIN_MS / 1000}s: ${(error as Error).message}`);
      await sleep(500);
    }
  }
}

async function main(): Promise<void> {
  if (!Number.isInteger(RETENTION_DAYS) || RETENTION_DAYS < 1 || RETENTION_DAYS > 3650) throw new Error('QUBINODE_PROD_RETENTION_DAYS must be a whole number of days from 1 to 3650');
  const config = loadConfig();
  const { namespace } = config.temporal;
  const temporal = await eventually('connect', () => connectClient(config.temporal));
  try {
    const service = temporal.connection.workflowService;
    await eventually('register the namespace', async () => {
      try {
        await service.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(RETENTION_DAYS * 86_400_000) });
        console.log(`registered namespace ${namespace} (retention ${RETENTION_DAYS} days)`);
      } catch (error) {
        if (!(isGrpcServiceError(error) && error.code === ALREADY_EXISTS)) throw error;
      }
    });
    const added = await eventually('register the search attributes', () => registerSearchAttributes(temporal.connection, namespace));
    if (added.length > 0) console.log(`registered search attributes ${added.join(', ')}`);
    // A query naming every attribute answers only once the namespace and its attributes are live on the frontend.
    const query = SEARCH_ATTRIBUTE_NAMES.map((name) => `${name} = "ready-check"`).join(' OR ');
    await eventually('query visibility by the search attributes', () => service.listWorkflowExecutions({ namespace, query, pageSize: 1 }));
    console.log(`namespace ${namespace} is ready`);
  } finally {
    await temporal.close();
  }
}

main().catch((error: unknown) => {
  console.error(`prepare-namespace: ${(error as Error).message}`);
  process.exit(1);
});
