import { Command, CommanderError } from 'commander';
import { packageVersion } from '../client/package-version';
import { registerApprovalCommands } from './commands/approvals';
import { registerAuditCommands } from './commands/audit';
import { registerCompletionCommand } from './commands/completion';
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
import { registerWatchCommand } from './commands/watch';
import { CliContext, CliError } from './context';
import { describeExpectedError, isExpectedError } from './expected-errors';

// Command modules only declare commands; each loads what it works with inside its action, so that
// `qubinode --help` and the quick commands do not load the Temporal client, the worker or the API.

function buildProgram(context: CliContext): Command {
  const program = new Command('qubinode')
    .description('Qubinode Navigator: durable, Git-native DAG workflows for KVM infrastructure on Temporal')
    .version(packageVersion())
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
  registerWatchCommand(program, context);
  registerCompletionCommand(program);
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  const context = new CliContext();
  try {
    await buildProgram(context).parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode === 0 || ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code) ? 0 : 2;
    } else if (isExpectedError(error)) {
      console.error(`qubinode: ${describeExpectedError(error)}`);
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
