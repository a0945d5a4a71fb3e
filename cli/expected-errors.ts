import type * as ApiClientModule from '../client/api-client';
import type * as AuditModule from '../client/audit';
import type * as HostsModule from '../client/hosts';
import type * as IdentityModule from '../client/identity';
import type * as RepoPolicyModule from '../client/repo-policy';
import type * as ReposModule from '../client/repos';
import type * as RunControlModule from '../client/run-control';
import type * as RunsModule from '../client/runs';
import { errorSource as from, LOCAL_REFUSALS, type ErrorSource } from '../client/local-refusals';
import type * as TemporalDevServerModule from '../infra/temporal-dev-server';
import { CliError } from './context';

type ErrorClass = abstract new (...args: never[]) => Error;

/**
 * Errors whose message is the whole story: printed without a stack. Each module is named, not imported:
 * an error can only be an instance of a class whose module is loaded, so only loaded modules are looked at,
 * and a command that never loaded the Temporal client does not load it to print an error.
 */
const EXPECTED: readonly ErrorSource[] = [
  ...LOCAL_REFUSALS,
  from<typeof ReposModule>(() => require.resolve('../client/repos'), 'RepoError'),
  from<typeof RunsModule>(() => require.resolve('../client/runs'), 'RunNotFoundError', 'RunAlreadyExistsError', 'BadRunRequestError'),
  from<typeof TemporalDevServerModule>(() => require.resolve('../infra/temporal-dev-server'), 'TemporalStartError'),
  from<typeof RunControlModule>(() => require.resolve('../client/run-control'), 'ApprovalRefusedError'),
  from<typeof IdentityModule>(() => require.resolve('../client/identity'), 'IdentityError'),
  from<typeof AuditModule>(() => require.resolve('../client/audit'), 'AuditUnavailableError'),
  from<typeof ApiClientModule>(() => require.resolve('../client/api-client'), 'ApiError', 'ApiUnreachableError', 'ApiAnswerError', 'ApiTokenError'),
  from<typeof HostsModule>(() => require.resolve('../client/hosts'), 'UnknownHostError', 'HostRegistryUnavailableError'),
  from<typeof RepoPolicyModule>(() => require.resolve('../client/repo-policy'), 'PolicyError', 'VersionApprovalNeededError'),
];

/** The named class of a module, only when that module is already loaded. */
function loadedClass(source: ErrorSource, name: string): ErrorClass | undefined {
  const loaded = require.cache[source.resolve()];
  const value = (loaded?.exports as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'function' ? (value as ErrorClass) : undefined;
}

const isInstance = (error: unknown, cls: ErrorClass | undefined): boolean => cls !== undefined && error instanceof cls;

/** Whether `error` is an instance of the expected class `name` (false while its module is not loaded). */
function isInstanceOf(error: unknown, name: string): boolean {
  return EXPECTED.some((source) => source.names.includes(name) && isInstance(error, loadedClass(source, name)));
}

export function isExpectedError(error: unknown): error is Error {
  return error instanceof CliError || EXPECTED.some((source) => source.names.some((name) => isInstance(error, loadedClass(source, name))));
}

/** The text printed after `qubinode: ` for an expected error. */
export function describeExpectedError(error: Error): string {
  if (isInstanceOf(error, 'DagValidationError')) return `invalid DAG:\n${indent(error.message)}`;
  if (isInstanceOf(error, 'ParamValidationError')) return `bad params, nothing started:\n${indent(error.message)}`;
  return error.message;
}

function indent(text: string): string {
  return text.split('\n').map((line) => `  ${line}`).join('\n');
}
