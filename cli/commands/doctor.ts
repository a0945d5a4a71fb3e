import type { Command } from 'commander';
import type * as Doctor from '../../client/doctor';

const checkTools: typeof Doctor.checkTools = (...args) => (require('../../client/doctor') as typeof Doctor).checkTools(...args);
const toolInstallLine: typeof Doctor.toolInstallLine = (...args) => (require('../../client/doctor') as typeof Doctor).toolInstallLine(...args);

export function registerDoctorCommands(program: Command): void {
  program
    .command('doctor')
    .description('Check the external tools the actions use (ansible-navigator, ansible, kcli, libvirt, Temporal) and say how to fix what is missing')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const reports = await checkTools();
      if (options.json) {
        console.log(JSON.stringify(reports, null, 2));
      } else {
        const install = toolInstallLine();
        if (install !== undefined) console.log(`${'tool install'.padEnd(18)} ${install}\n`);
        for (const report of reports) {
          const state = report.present ? `ok   ${report.version ?? ''}`.trimEnd() : report.installing ? 'installing' : report.required ? 'MISSING' : 'missing';
          console.log(`${report.tool.padEnd(18)} ${state.padEnd(28)} ${report.path ?? ''}`.trimEnd());
          console.log(`${''.padEnd(18)} used by ${report.usedBy}`);
          if (report.fix !== undefined) console.log(`${''.padEnd(18)} fix: ${report.fix}`);
        }
      }
      if (reports.some((report) => report.required && !report.present)) process.exitCode = 1;
    });
}
