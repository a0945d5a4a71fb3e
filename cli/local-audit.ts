import { userInfo } from 'node:os';
import type { CliContext } from './context';
import type * as Audit from '../client/audit';
import type { AuditRecordInput } from '../client/audit';
import type * as RunControl from '../client/run-control';
import type * as Runs from '../client/runs';

// Loaded when something is recorded (see cli/main.ts).
const audit = (): typeof Audit => require('../client/audit') as typeof Audit;
const runControl = (): typeof RunControl => require('../client/run-control') as typeof RunControl;
const runs = (): typeof Runs => require('../client/runs') as typeof Runs;

/**
 * The CLI talking to Temporal directly acts as the person logged in here: audit entries name the
 * OS user (via `local`), never a name given on the command line.
 */
export function localUser(): string {
  return userInfo().username;
}

/** Errors that mean "not allowed or not possible as asked", as opposed to something breaking. */
function outcomeOf(error: unknown): 'refused' | 'failed' {
  return error instanceof runControl().ApprovalRefusedError || error instanceof runs().RunAlreadyExistsError ? 'refused' : 'failed';
}

async function record(context: CliContext, entry: Omit<AuditRecordInput, 'actor' | 'via'>): Promise<void> {
  try {
    const { client } = await context.temporal();
    await audit().recordAudit(client, { actor: localUser(), via: 'local', ...entry });
  } catch (error) {
    // The action itself already happened (or failed); say loudly that its trail is missing.
    console.error(`qubinode: audit entry for ${entry.action} ${entry.target} not recorded: ${(error as Error).message}`);
  }
}

/**
 * Runs a state change and records it: `ok` with `describe(result)` as detail, or `refused`/`failed`
 * with the error message; the error is rethrown.
 */
export async function audited<T>(
  context: CliContext,
  what: { action: string; target: string; onBehalfOf?: string; detail?: string },
  run: () => Promise<T>,
  describe?: (result: T) => string | undefined,
): Promise<T> {
  const base = { action: what.action, target: what.target, ...(what.onBehalfOf ? { onBehalfOf: what.onBehalfOf } : {}) };
  let result: T;
  try {
    result = await run();
  } catch (error) {
    await record(context, { ...base, outcome: outcomeOf(error), detail: (error as Error).message });
    throw error;
  }
  const detail = describe?.(result) ?? what.detail;
  await record(context, { ...base, outcome: 'ok', ...(detail ? { detail } : {}) });
  return result;
}
