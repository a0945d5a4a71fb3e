import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { ConfigError, PROJECT_ROOT } from '../config/config';
import { IdentityError } from '../client/identity';
import { PolicyError, VersionApprovalNeededError } from '../client/repo-policy';
import { ApiAnswerError, ApiError, ApiTokenError, ApiUnreachableError } from '../client/api-client';
import { AuditUnavailableError } from '../client/audit';
import { HostRegistryUnavailableError, UnknownHostError } from '../client/hosts';
import { RepoError } from '../client/repos';
import { ApprovalRefusedError } from '../client/run-control';
import { BadRunRequestError, RunAlreadyExistsError, RunNotFoundError } from '../client/runs';
import { UnknownDagError } from '../dag-repos/catalog/local-catalog';
import { DagValidationError } from '../dag-repos/compiler/diagnostics';
import { ParamValidationError } from '../dag-repos/schema/params';
import { TemporalStartError } from '../infra/temporal-dev-server';
import { registerApprovalCommands } from './commands/approvals';
import { registerAuditCommands } from './commands/audit';
import { registerDagCommands } from './commands/dag';
import { registerDoctorCommands } from './commands/doctor';
import { registerHostCommands } from './commands/host';
import { registerHostsCommands } from './commands/hosts';
import { registerIdentityCommands } from './commands/identity';
import { registerPolicyCommands } from './commands/policy';
import { registerRepoCommands } from './commands/repos';
import { registerAiCommands } from './commands/ai';
import { registerRunCommands } from './commands/runs';
import { registerServiceCommands } from './commands/services';
import { registerStatsCommands } from './commands/stats';
import { registerTriggerCommands } from './commands/trigger';
import { CliContext, CliError } from './context';

/** Errors whose message is the whole story: printed without a stack. */
const EXPECTED_ERRORS = [CliError, RepoError, ConfigError, UnknownDagError, DagValidationError, ParamValidationError, RunNotFoundError, RunAlreadyExistsError, TemporalStartError, ApprovalRefusedError, IdentityError, BadRunRequestError, AuditUnavailableError, ApiError, ApiUnreachableError, ApiAnswerError, ApiTokenError, UnknownHostError, HostRegistryUnavailableError, PolicyError, VersionApprovalNeededError];

function buildProgram(context: CliContext): Command {
  const program = new Command('qubinode')
    .description('Qubinode Navigator: durable, Git-native DAG workflows for KVM infrastructure on Temporal')
    .version((JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerServiceCommands(program, context);
  registerDagCommands(program, context);
  registerRunCommands(program, context);
  registerApprovalCommands(program, context);
  registerAuditCommands(program, context);
  registerAiCommands(program, context);
  registerRepoCommands(program, context);
  registerTriggerCommands(program);
  registerIdentityCommands(program, context);
  registerPolicyCommands(program, context);
  registerDoctorCommands(program);
  registerHostCommands(program);
  registerHostsCommands(program, context);
  registerStatsCommands(program, context);
  return program;
}

function describeError(error: unknown): string {
  if (error instanceof DagValidationError) return `invalid DAG:\n${error.message.split('\n').map((line) => `  ${line}`).join('\n')}`;
  if (error instanceof ParamValidationError) return `bad params, nothing started:\n${error.message.split('\n').map((line) => `  ${line}`).join('\n')}`;
  return (error as Error).message;
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  const context = new CliContext();
  try {
    await buildProgram(context).parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 || ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code) ? 0 : 2;
    } else if (EXPECTED_ERRORS.some((kind) => error instanceof kind)) {
      console.error(`qubinode: ${describeError(error)}`);
      process.exitCode = error instanceof CliError ? error.exitCode : 1;
    } else if ((error as { name?: string }).name === 'TransportError' || /UNAVAILABLE|ECONNREFUSED/.test(String((error as Error).message))) {
      console.error(`qubinode: cannot reach Temporal at ${context.config.temporal.address}: ${(error as Error).message}\n  start it with \`qubinode server start\` or \`npm start\`, or set TEMPORAL_ADDRESS`);
      process.exitCode = 1;
    } else {
      console.error(error);
      process.exitCode = 1;
    }
  } finally {
    await context.close().catch(() => undefined);
  }
}

if (require.main === module) void main();
