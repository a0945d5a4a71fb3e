import { AsyncLocalStorage } from 'node:async_hooks';
import { Context } from '@temporalio/activity';
import type { ActionInvocation } from '../../dag-repos/actions/action-types';
import { createRedactor, redactDeep, redactFailure } from './redact';
import { resolveSecretRefsAt } from './secret-refs';

type AnyActivity = (...args: never[]) => Promise<unknown>;

interface Scope {
  redact: (text: string) => string;
}

const scopes = new AsyncLocalStorage<Scope>();
const identity = (text: string): string => text;

function isInvocation(value: unknown): value is ActionInvocation {
  return value !== null && typeof value === 'object' && 'taskId' in value && 'with' in value;
}

/** The redactor of the action running now: its resolved secrets (identity outside one). */
export function currentRedactor(): (text: string) => string {
  return scopes.getStore()?.redact ?? identity;
}

/** Sends an activity heartbeat with its details redacted: heartbeat details reach history in timeout failures. */
export function heartbeat(details: unknown): void {
  Context.current().heartbeat(redactDeep(details, currentRedactor()));
}

/**
 * Wraps every action activity once, when the worker registers them, so no action can forget:
 * resolves the secret references the DAG author wrote (`secretRefs`; nothing else is resolved),
 * hands the action the resolved invocation and the secret values (`secrets`), and redacts the
 * result and any failure (message, details, stack, causes) before they leave the worker.
 * Arguments that are not an action invocation pass through, still inside a (empty) scope.
 */
export function withSecretScope<T extends Record<string, AnyActivity>>(activities: T, env: NodeJS.ProcessEnv = process.env): T {
  const wrapped: Record<string, AnyActivity> = {};
  for (const [name, activity] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      const [first, ...rest] = args as unknown[];
      if (!isInvocation(first)) return scopes.run({ redact: identity }, () => activity(...args));
      // `secrets` is the worker's to set: a value claimed in the input is dropped.
      const { secrets: _claimed, ...invocation } = first;
      const resolved = await resolveSecretRefsAt(invocation.with, invocation.secretRefs ?? [], env);
      // Only resolved values: guessing secrets from env names (ANSIBLE_HOST_KEY_CHECKING: "False") would
      // blank ordinary words out of every action's output; shell does that for its own env, as it always has.
      const secrets = resolved.secrets;
      const call = (): Promise<unknown> => activity(...([{ ...invocation, with: resolved.value, secrets }, ...rest] as never[]));
      if (secrets.length === 0) return scopes.run({ redact: identity }, call);
      const redact = createRedactor(secrets);
      try {
        const result = await scopes.run({ redact }, call);
        return redactDeep(result, redact);
      } catch (error) {
        throw redactFailure(error, redact);
      }
    };
  }
  return wrapped as T;
}
