import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import type * as TriggerSigning from '../../client/trigger-signing';
import { CliError } from '../context';

// Loaded by the action (see cli/main.ts).
const triggerSigning = (): typeof TriggerSigning => require('../../client/trigger-signing') as typeof TriggerSigning;
const isDeliveryId: typeof TriggerSigning.isDeliveryId = (...args) => triggerSigning().isDeliveryId(...args);
const newDeliveryId: typeof TriggerSigning.newDeliveryId = () => triggerSigning().newDeliveryId();
const signTriggerDelivery: typeof TriggerSigning.signTriggerDelivery = (...args) => triggerSigning().signTriggerDelivery(...args);

/** `qubinode trigger sign`: the sender's side of `POST /trigger/<repo>/<dag>`, for scripts and curl. */
export function registerTriggerCommands(program: Command): void {
  const trigger = program.command('trigger').description('Signed webhook calls that start a DAG with on.webhook');
  trigger
    .command('sign')
    .description('Print the X-Qubinode-* headers for one delivery of a body (from --file or stdin); use with curl -H @headers --data-binary @body')
    .requiredOption('--secret-env <VAR>', "environment variable holding the DAG's trigger secret (the value never goes on the command line)")
    .option('--file <path>', 'the exact body to send (default: stdin)')
    .option('--delivery <id>', 'delivery id, 8-64 of A-Z a-z 0-9 . _ - (default: a new random id); the same id is accepted only once')
    .action((options: { secretEnv: string; file?: string; delivery?: string }) => {
      const { WEBHOOK_SECRET_MIN_LENGTH } = triggerSigning();
      const secret = process.env[options.secretEnv];
      if (!secret) throw new CliError(`$${options.secretEnv} is not set`, 2);
      if (secret.length < WEBHOOK_SECRET_MIN_LENGTH) throw new CliError(`$${options.secretEnv} is shorter than ${WEBHOOK_SECRET_MIN_LENGTH} characters: the API refuses such secrets`, 2);
      const delivery = options.delivery ?? newDeliveryId();
      if (!isDeliveryId(delivery)) throw new CliError('--delivery must be 8-64 of A-Z a-z 0-9 . _ -', 2);
      const body = readFileSync(options.file ?? 0);
      const headers = signTriggerDelivery(secret, body, delivery);
      // Header lines as curl reads them from a file (-H @file).
      for (const [name, value] of Object.entries(headers)) console.log(`${name}: ${value}`);
    });
}
